import pytest

from bot.answers.kinds import Kind, holds, names, question_kind, satisfied


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("when did the kronstadt revolt start", Kind.DATE),
        ("what year was the colony dissolved", Kind.DATE),
        ("when the workers ran the refinery, what did the commissar say", Kind.OTHER),
        ("how many people lived in the region", Kind.NUMBER),
        ("who was the opposition guy that executed the grand duke", Kind.PERSON),
        ("why did the sailors rebel", Kind.OTHER),
        ("what was the name of the ship they sailed on", Kind.PERSON),
        ("what was the engineer's first name", Kind.PERSON),
    ],
)
def test_question_kinds(question: str, kind: Kind) -> None:
    assert question_kind(question) is kind


def test_a_count_is_not_a_year_or_an_ordinal() -> None:
    assert holds(Kind.NUMBER, "About 10,000 people came.")
    assert holds(Kind.NUMBER, "A few thousand anarchists.")
    assert not holds(Kind.NUMBER, "In 1920 the 10th congress met.")
    assert holds(Kind.DATE, "It met in March 1921.")
    assert not holds(Kind.DATE, "It met in the spring.")


def test_names_are_rare_capitalised_words_the_question_lacks() -> None:
    assert names("The colony was led by Sebald Rutgers and the Revolution.") == [
        "Sebald",
        "Rutgers",
    ]
    question = "who replaced rutgers at kuzbass"
    assert holds(Kind.PERSON, "Rutgers was replaced by Kutkin.", question)
    assert not holds(Kind.PERSON, "Rutgers left the Revolution behind.", question)
    assert satisfied(question, ["Rutgers left.", "Then Kutkin came."])
    assert not satisfied("how many votes did it get", ["A large minority of votes in 1921."])
