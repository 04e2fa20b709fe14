from bot.library.segmentation import SectionText, split_passages, split_sentences


def test_sentences_are_exact_substrings_and_respect_abbreviations() -> None:
    paragraph = (
        "In 1917 V.I. Lenin wrote. He said “no.” Then M. Brinton, The Bolsheviks "
        "(London 1970) p. 35. See No. 9, March 11, 1921. Who? 10,000 died."
    )
    sentences = split_sentences(paragraph)
    assert sentences == [
        "In 1917 V.I. Lenin wrote.",
        "He said “no.”",
        "Then M. Brinton, The Bolsheviks (London 1970) p. 35.",
        "See No. 9, March 11, 1921.",
        "Who?",
        "10,000 died.",
    ]
    assert all(s in paragraph for s in sentences)


def test_passages_never_cut_a_sentence_and_stay_within_bounds() -> None:
    long_sentence = "word " * 300 + "end."
    section = SectionText("History", ("First one. Second one.", long_sentence, "Last one."))
    passages = split_passages("doc", [section], max_chars=100)
    joined = [s for p in passages for s in p.sentences]
    assert joined == ["First one.", "Second one.", long_sentence.strip(), "Last one."]
    assert [p.id for p in passages] == [f"doc:{n}" for n in range(1, len(passages) + 1)]
    assert all(p.section == "History" for p in passages)
    assert all(len(p.text) <= 100 or len(p.sentences) == 1 for p in passages)


def test_empty_sections_make_no_passages() -> None:
    assert split_passages("doc", [SectionText("Empty", ("", "   "))], max_chars=500) == []
