"""How the core lays out where a passage comes from, whatever the platform."""

from bot.answers.model import Answer, SectionPointer
from bot.console.render import render
from bot.core.replies import AnswerReply

TITLE = "1919: When the Bolsheviks Turned on the Workers"


def _declined(section: str) -> str:
    pointer = SectionPointer(
        passage_id="crimethinc-1919:1",
        doc_id="crimethinc-1919",
        title=TITLE,
        author="CrimethInc.",
        section=section,
    )
    answer = Answer(
        question="q", answered=False, text="No.", citations=[], passages=[], closest=[pointer]
    )
    return " ".join(render(AnswerReply(answer=answer)).split())  # lines wrapped back


def test_a_section_named_like_its_document_is_not_named_twice() -> None:
    assert "§" not in _declined(TITLE)
    assert "§" not in _declined("  1919: when the bolsheviks   turned on the WORKERS ")
    named = _declined("Worker Resistance to the Soviet State")
    assert "CrimethInc., § Worker Resistance to the Soviet State" in named
    assert named.count(TITLE) == 1
