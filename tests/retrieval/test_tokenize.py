from bot.retrieval.tokenize import Tokenizer, TokenizerOptions, words


def test_accents_apostrophes_possessives_and_compounds() -> None:
    assert words("Guérin’s co-ops and anarcho-syndicalist workers'") == [
        "guerin",
        "ops",
        "coops",
        "and",
        "anarcho",
        "syndicalist",
        "workers",
    ]


def test_one_tokenizer_for_questions_and_passages() -> None:
    tokenize = Tokenizer(TokenizerOptions())
    assert tokenize("What did the WORKERS demand?") == tokenize("workers demanded")
    assert tokenize("lol whats the thing") == []


def test_options_switch_stemming_and_stop_words_off() -> None:
    plain = Tokenizer(TokenizerOptions(stemming=False, stop_words=False))
    assert plain("The Workers") == ["the", "workers"]
