"""The cleaners, on snippets of each format and on the real library."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from bot.library.cleaning import (
    Block,
    CleaningHints,
    CleanText,
    DocFormat,
    Vocabulary,
    clean,
    guess_format,
)

KNOWLEDGE = Path(__file__).resolve().parents[2] / "knowledge"
FORMATS = {
    "kuzbass-autonomous-industrial-colony.md": DocFormat.WIKI_MARKDOWN,
    "workers-opposition-democratic-production.txt": DocFormat.WEB_ARTICLE,
    "guerin-anarchism-in-the-russian-revolution.txt": DocFormat.TEXT,
    "on-the-russian-revolution.txt": DocFormat.TEXT,
    "1919-when-the-bolsheviks-turned-on-the-workers.txt": DocFormat.PDF_TEXT,
}


@pytest.fixture(scope="module")
def raw_library() -> dict[str, str]:
    return {name: (KNOWLEDGE / name).read_text(encoding="utf-8") for name in FORMATS}


@pytest.fixture(scope="module")
def vocabulary(raw_library: dict[str, str]) -> Vocabulary:
    return Vocabulary.from_texts(raw_library.values())


@pytest.fixture(scope="module")
def library(raw_library: dict[str, str], vocabulary: Vocabulary) -> dict[str, CleanText]:
    return {name: clean(raw, FORMATS[name], vocabulary) for name, raw in raw_library.items()}


def prose(cleaned: CleanText) -> str:
    return "\n".join(block.text for block in cleaned.blocks)


def paragraphs(cleaned: CleanText) -> list[str]:
    return [block.text for block in cleaned.blocks if block.kind == "paragraph"]


def headings(cleaned: CleanText) -> list[tuple[str, int]]:
    return [(block.text, block.level) for block in cleaned.blocks if block.kind == "heading"]


# --- wiki Markdown ------------------------------------------------------------------------

WIKI = """# Kuzbass Autonomous Industrial Colony

## History

The **Kuzbass Autonomous Industrial Colony** (AIC) was a significant
experiment in <a href="workers&#39;_control" class="wikilink"
title="workers&#39; control">workers' control</a> and
<a href="industrial_self-management" class="wikilink"
title="industrial self-management">industrial self-management</a> that
operated in Soviet Siberia from 1922 to 1926.[^1]

### Origins

The colony published the *Kuzbass Bulletin* in New York.[^2][^3]

## External links

- [A history of Kuzbass, including the involvement of the
  IWW](https://web.archive.org/web/20011110125654/http://flag.blackened.net/revolt/russia/kuzbass_colony.html)
- [The Anarchist Library - Full text of Shtyrbul
  article](https://theanarchistlibrary.org/library/anatoly-shtyrbul-the-autonomous-industrial-colony-kuzbass)

## References

<references/>

<a href="Category:Anarcho-Syndicalism" class="wikilink"
title="Category:Anarcho-Syndicalism">Category:Anarcho-Syndicalism</a>
<a href="Category:USSR" class="wikilink"
title="Category:USSR">Category:USSR</a>

[^1]: Shtyrbul, Anatoly (2001). "The Autonomous Industrial Colony
    'Kuzbass': An experiment in industrial autonomy"

[^2]:

[^3]: Sutton, Anthony (1968). *Western Technology and Soviet Economic
    Development, 1917 to 1930*. Stanford: Hoover Institution
"""


def test_wiki_markdown_keeps_link_text_and_drops_markup() -> None:
    cleaned = clean(WIKI, DocFormat.WIKI_MARKDOWN, Vocabulary())
    assert paragraphs(cleaned) == [
        "The Kuzbass Autonomous Industrial Colony (AIC) was a significant experiment in "
        "workers' control and industrial self-management that operated in Soviet Siberia "
        "from 1922 to 1926.",
        "The colony published the Kuzbass Bulletin in New York.",
    ]


def test_wiki_markdown_headings_keep_their_level_and_empty_sections_go() -> None:
    cleaned = clean(WIKI, DocFormat.WIKI_MARKDOWN, Vocabulary())
    assert headings(cleaned) == [
        ("Kuzbass Autonomous Industrial Colony", 1),
        ("History", 2),
        ("Origins", 3),
    ]


def test_wiki_markdown_keeps_only_footnotes_with_text() -> None:
    cleaned = clean(WIKI, DocFormat.WIKI_MARKDOWN, Vocabulary())
    assert cleaned.notes == (
        "1 Shtyrbul, Anatoly (2001). \"The Autonomous Industrial Colony 'Kuzbass': "
        'An experiment in industrial autonomy"',
        "3 Sutton, Anthony (1968). Western Technology and Soviet Economic Development, "
        "1917 to 1930. Stanford: Hoover Institution",
    )


def test_plain_markdown() -> None:
    raw = "# A Title\n\nSome *words* with a [link](https://x.org)\nwrapped here.\n\n## Part\n\nEnd."
    cleaned = clean(raw, DocFormat.MARKDOWN, Vocabulary())
    assert cleaned.blocks == (
        Block("heading", "A Title", 1),
        Block("paragraph", "Some words with a link wrapped here."),
        Block("heading", "Part", 2),
        Block("paragraph", "End."),
    )


# --- web article --------------------------------------------------------------------------

WEB = """Democratic Production and the Workers’ Opposition of Revolutionary Russia (Part 1)


Alexandra Kollontai

In a post-capitalist society, who should control production? How should decisions be made?

Early Days of Revolution

Having been a metalworker since he was 13 years old, Shlyapnikov had an intense conviction.

Don Fitz, who can be reached at [email protected], was the 2016 candidate of the Party.




Support Countercurrents

Countercurrents is answerable only to our readers. Support honest journalism.
Become a Patron at Patreon

Join Our Newsletter
"""


def test_web_article_drops_caption_and_site_furniture() -> None:
    cleaned = clean(WEB, DocFormat.WEB_ARTICLE, Vocabulary())
    assert cleaned.blocks == (
        Block(
            "heading",
            "Democratic Production and the Workers’ Opposition of Revolutionary Russia (Part 1)",
            1,
        ),
        Block(
            "paragraph",
            "In a post-capitalist society, who should control production? "
            "How should decisions be made?",
        ),
        Block("heading", "Early Days of Revolution", 2),
        Block(
            "paragraph",
            "Having been a metalworker since he was 13 years old, "
            "Shlyapnikov had an intense conviction.",
        ),
        Block(
            "paragraph",
            "Don Fitz, who can be reached at [email protected], was the 2016 candidate "
            "of the Party.",
        ),
    )


def test_web_article_hints() -> None:
    raw = "Title\n\nFirst paragraph of the text.\n\nA photo credit\n\nSecond one.\n\nTHE END\n\nX."
    hints = CleaningHints(end_marker="THE END", drop_lines=("A photo credit",))
    cleaned = clean(raw, DocFormat.WEB_ARTICLE, Vocabulary(), hints)
    assert paragraphs(cleaned) == ["First paragraph of the text.", "Second one."]


# --- plain text, one paragraph a line -------------------------------------------------------

ESSAY = """On the Russian Revolution
It is important to foreground an analysis, as the revolution was ‘a process’1 of struggle.
The Pre-revolutionary period
In 1905, women rioted over bread at the 10th congress of 1917, which led to gains5 for workers.
Further Reading
Maurice Brinton – The Bolsheviks and Workers Control
Ida Mett – The Kronstadt Uprising
- M. Brinton, The Bolsheviks and Workers Control (Solidarity, London 1970).
- Ibid.
"""


def test_text_title_headings_and_glued_note_numbers() -> None:
    cleaned = clean(ESSAY, DocFormat.TEXT, Vocabulary())
    assert cleaned.blocks == (
        Block("heading", "On the Russian Revolution", 1),
        Block(
            "paragraph",
            "It is important to foreground an analysis, "
            "as the revolution was ‘a process’ of struggle.",
        ),
        Block("heading", "The Pre-revolutionary period", 2),
        Block(
            "paragraph",
            "In 1905, women rioted over bread at the 10th congress of 1917, "
            "which led to gains for workers.",
        ),
    )


def test_text_back_matter_becomes_notes() -> None:
    cleaned = clean(ESSAY, DocFormat.TEXT, Vocabulary())
    assert cleaned.notes == (
        "Maurice Brinton – The Bolsheviks and Workers Control",
        "Ida Mett – The Kronstadt Uprising",
        "M. Brinton, The Bolsheviks and Workers Control (Solidarity, London 1970).",
        "Ibid.",
    )


def test_text_source_note_and_untitled_text() -> None:
    raw = (
        "This book opens straight away with a sentence, and it has no title line at all.\n"
        'Voline went on to maintain that Stalin "did not fall from the moon."\n'
        "(Source: Anarchism: From Theory to Practice, first published in French in 1965.)\n"
    )
    cleaned = clean(raw, DocFormat.TEXT, Vocabulary())
    assert headings(cleaned) == []
    assert len(paragraphs(cleaned)) == 2
    assert cleaned.notes == (
        "(Source: Anarchism: From Theory to Practice, first published in French in 1965.)",
    )


# --- PDF-extracted text ---------------------------------------------------------------------

PDF = """ One hundred years ago in Russia, thousands ofworkerswere
on strike in the city of Astrakhan. Now,
the bosses were party bureaucrats, and the workers were strik-
ing against a socialist government. Howwould the dictatorship
of the proletariat respond?

Bolshevik Realism

Who better understands the peasants than men like Lenin, Trot-
sky, and Zinoviev who never toiled in the fields in their lives?1 And who better

1 Of the seven members of the first Politburo—Lenin, Trotsky, Stalin,
Kamenev, Sokolnikov, Zinoviev, and Bubnov—all but Zinoviev had received
elite educations. Stalin was the only one of the seven who came from a less-than-
middle class background, as were some white-
collar families.
 to protect the interests of the soldiers than the political com-
missar? Bolshevik realism made it clear that the only way to exe-
cute a real revolution was to take over the state.
"""

PDF_VOCABULARY_TEXTS = (
    "of workers were " * 3,
    "how would the striking workers execute a strike of white-collar workers",
)


def test_pdf_reflows_mends_words_and_sets_footnotes_aside() -> None:
    vocabulary = Vocabulary.from_texts([*PDF_VOCABULARY_TEXTS, PDF])
    cleaned = clean(PDF, DocFormat.PDF_TEXT, vocabulary)
    assert cleaned.blocks == (
        Block(
            "paragraph",
            "One hundred years ago in Russia, thousands of workers were on strike in the city "
            "of Astrakhan. Now, the bosses were party bureaucrats, and the workers were "
            "striking against a socialist government. How would the dictatorship of the "
            "proletariat respond?",
        ),
        Block("heading", "Bolshevik Realism", 2),
        Block(
            "paragraph",
            "Who better understands the peasants than men like Lenin, Trotsky, and Zinoviev "
            "who never toiled in the fields in their lives? And who better",
        ),
        Block(
            "paragraph",
            "to protect the interests of the soldiers than the political commissar? Bolshevik "
            "realism made it clear that the only way to execute a real revolution was to take "
            "over the state.",
        ),
    )
    assert cleaned.notes == (
        "1 Of the seven members of the first Politburo—Lenin, Trotsky, Stalin, Kamenev, "
        "Sokolnikov, Zinoviev, and Bubnov—all but Zinoviev had received elite educations. "
        "Stalin was the only one of the seven who came from a less-than-middle class "
        "background, as were some white-collar families.",
    )


def test_pdf_never_splits_a_word_the_library_knows() -> None:
    raw = " The workers took the nonetheless unusual step of striking. Theworkers won.\n"
    known = "nonetheless " * 3  # the library writes it often: a word, even if `none the less`
    vocabulary = Vocabulary.from_texts([raw, "the workers " * 5, "none the less " * 5, known])
    cleaned = clean(raw, DocFormat.PDF_TEXT, vocabulary)
    assert paragraphs(cleaned) == [
        "The workers took the nonetheless unusual step of striking. The workers won."
    ]


# --- the real library -----------------------------------------------------------------------


def test_library_markup_is_gone(library: dict[str, CleanText]) -> None:
    text = prose(library["kuzbass-autonomous-industrial-colony.md"])
    for leftover in ("<a href", "[^", "&#39;", "**", "Category:", "<references", "](http"):
        assert leftover not in text
    assert "External links" not in text
    assert "References" not in text
    assert "Lenin called on workers from developed countries" in text


def test_library_web_article(library: dict[str, CleanText]) -> None:
    cleaned = library["workers-opposition-democratic-production.txt"]
    text = prose(cleaned)
    assert "Join Our Newsletter" not in text
    assert "Support Countercurrents" not in text
    assert cleaned.blocks[1].text != "Alexandra Kollontai"
    assert "Alexandra Kollontai" not in [block.text for block in cleaned.blocks]
    email_line = "Don Fitz, who can be reached at [email protected]"
    assert any(p.startswith(email_line) for p in paragraphs(cleaned))


def test_library_essay(library: dict[str, CleanText]) -> None:
    cleaned = library["on-the-russian-revolution.txt"]
    text = prose(cleaned)
    assert "process’1" not in text
    assert "over the productive process’, not simply partial" in text
    assert "Further Reading" not in text
    assert "- M. Brinton" not in text
    reference = "M. Brinton, The Bolsheviks and Workers Control (Solidarity, London 1970)."
    assert reference in cleaned.notes


def test_library_guerin(library: dict[str, CleanText]) -> None:
    cleaned = library["guerin-anarchism-in-the-russian-revolution.txt"]
    assert cleaned.blocks[0] == Block("heading", "Chapter 3, Section B", 1)
    assert "(Source:" not in prose(cleaned)
    assert cleaned.notes[-1].startswith("(Source: Anarchism: From Theory to Practice")


def test_library_pdf(library: dict[str, CleanText]) -> None:
    cleaned = library["1919-when-the-bolsheviks-turned-on-the-workers.txt"]
    text = prose(cleaned)
    notes = "\n".join(cleaned.notes)
    assert "ofworkerswere" not in text
    assert "thousands of workers were on strike" in text
    assert "execute a real revolution" in text
    assert "exe-" not in text
    assert "strik-" not in text
    assert "anarcho-syndicalist" in prose(library["kuzbass-autonomous-industrial-colony.md"])
    assert "Of the seven members of the first Politburo" not in text
    assert "Of the seven members of the first Politburo" in notes
    assert "less-than-middle class background" in notes
    assert "white-collar workers" in notes
    assert "in their lives? And who better" in text
    assert "control. They had replaced it" in text
    assert ("Bolshevik Realism", 2) in headings(cleaned)
    assert ("Enemies, Enemies Everywhere", 2) in headings(cleaned)
    assert ("The End of Resistance to Bolshevik Realism", 2) in headings(cleaned)


def test_library_paragraphs_are_single_spaced(library: dict[str, CleanText]) -> None:
    for cleaned in library.values():
        for block in cleaned.blocks:
            assert block.text == block.text.strip()
            assert not re.search(r"\s{2,}|\n", block.text)


def test_guess_format(raw_library: dict[str, str]) -> None:
    guesses = {name: guess_format(name, raw) for name, raw in raw_library.items()}
    assert guesses == {
        "kuzbass-autonomous-industrial-colony.md": DocFormat.WIKI_MARKDOWN,
        "workers-opposition-democratic-production.txt": DocFormat.TEXT,
        "guerin-anarchism-in-the-russian-revolution.txt": DocFormat.TEXT,
        "on-the-russian-revolution.txt": DocFormat.TEXT,
        "1919-when-the-bolsheviks-turned-on-the-workers.txt": DocFormat.PDF_TEXT,
    }
    assert guess_format("notes.md", "# Notes\n\nPlain words.") == DocFormat.MARKDOWN


# --- any input ------------------------------------------------------------------------------


def _garbage() -> list[str]:
    rng = random.Random(1917)
    noise = bytes(rng.randrange(256) for _ in range(20_000)).decode("utf-8", errors="replace")
    return [
        "",
        "   \n\n\t",
        "\x00\x01\x02",
        "\ufffd" * 500,
        noise,
        "-\n-\n" * 200,
        "[^1]:\n<a href=\n" * 50,
        "a" * 100_000,
        " x\n1 Y\n" * 300,
    ]


@pytest.mark.parametrize("fmt", list(DocFormat))
def test_any_input_cleans_without_raising(fmt: DocFormat, vocabulary: Vocabulary) -> None:
    for raw in _garbage():
        first = clean(raw, fmt, vocabulary)
        assert first == clean(raw, fmt, vocabulary)
        assert all(block.text for block in first.blocks)
    assert clean("", fmt, vocabulary) == CleanText()
