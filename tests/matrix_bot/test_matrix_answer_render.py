"""How answers read in Matrix: sources after the quotes, never repeating them."""

from bot.answers.model import Answer, Citation
from bot.core import present as words
from bot.core.replies import AnswerReply, Refusal, RefusalReason
from bot.core.text import quote_typed
from bot.matrix_bot.render import render


def test_answer_sources_do_not_repeat_the_quotes_and_carry_caveats() -> None:
    citation = Citation(
        marker=1,
        passage_id="doc:1",
        doc_id="doc",
        title="T",
        author="A",
        section="S",
        quote="The Cheka struck <b>hard</b>.",
        caveat="Satire: not the author's view.",
    )
    answer = Answer(
        question="q",
        answered=True,
        text="The Cheka struck <b>hard</b>. [1]",
        citations=[citation],
        passages=[],
    )
    shown = render(AnswerReply(answer=answer))
    assert shown.plain.count("The Cheka struck") == 1
    assert "[1] T, A, § S (doc:1)" in shown.plain
    assert "Note: Satire: not the author's view." in shown.plain
    assert "<b>hard</b>" not in shown.html and "&lt;b&gt;hard&lt;/b&gt;" in shown.html
    hidden = render(AnswerReply(answer=answer, show_quotes=False))
    assert "The Cheka struck" not in hidden.plain
    assert hidden.plain.startswith("The library answers this in [1].")


def test_typed_text_in_a_refusal_is_never_markup() -> None:
    typed = "<b>bold</b> **x** @room"
    refusal = Refusal(reason=RefusalReason.NOT_FOUND, message=words.no_passage(quote_typed(typed)))
    rendered = render(refusal)
    assert "&lt;b&gt;bold&lt;/b&gt;" in rendered.html and "<b>bold" not in rendered.html
    assert "“<b>bold</b> **x** @room”" in rendered.plain
