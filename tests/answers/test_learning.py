"""The answer models: fitted from data, stored as plain finite numbers, refused when wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.answers.features import feature_names
from bot.answers.learning import (
    DECLINE_RATES,
    AnswerModel,
    ModelFileError,
    ModelSet,
    fit_listwise,
    fit_logistic,
    thresholds_for,
)


def test_logistic_regression_learns_which_feature_matters() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 2))
    y = x[:, 0] + 0.1 * rng.normal(size=400) > 0
    model = fit_logistic(("signal", "noise"), x, y)
    assert abs(model.weights[0]) > 5 * abs(model.weights[1])
    assert model.probability(np.array([[2.0, 0.0]]))[0] > 0.9
    gated = model.probability(np.array([[2.0, 0.0]]), np.array([0.0, 1.0]))[0]
    at_mean = model.probability(np.array([[model.mean[0], 0.0]]))[0]
    assert abs(gated - at_mean) < 1e-9  # a feature gated to 0 reads as its training mean


def test_a_feature_may_only_push_the_way_its_sign_says() -> None:
    # Two nearly equal features: the second's own effect is opposite to the label, so a free
    # fit gives them opposite weights that cancel here and add up far from the data.
    rng = np.random.default_rng(7)
    base = rng.normal(size=600)
    x = np.column_stack([base, base + 0.3 * rng.normal(size=600)])
    y = 2 * x[:, 0] - 1.0 * x[:, 1] + 0.3 * rng.normal(size=600) > 0
    free = fit_logistic(("a", "b"), x, y)
    assert free.weights[1] < 0
    signed = fit_logistic(("a", "b"), x, y, signs=[1, 1])
    assert signed.weights[0] > 0
    assert signed.weights[1] == 0.0  # left out, the rest refitted
    either = fit_logistic(("a", "b"), x, y, signs=[1, 0])
    assert np.allclose(either.weights, free.weights)  # 0 allows both ways


def test_the_listwise_model_ranks_the_answering_row_first_in_each_group() -> None:
    rng = np.random.default_rng(5)
    groups = []
    for _ in range(60):
        x = rng.normal(size=(8, 2))
        y = np.zeros(8, dtype=bool)
        y[int(np.argmax(x[:, 1]))] = True  # the second feature picks the answer
        groups.append((x, y, np.ones(2)))
    model = fit_listwise(("a", "b"), groups)
    hits = sum(bool(y[int(np.argmax(model.score(x)))]) for x, y, _ in groups)
    assert hits >= 55


def test_each_strictness_declines_at_most_its_share_of_answerable_questions() -> None:
    probability = np.linspace(0.01, 0.99, 100)
    answerable = np.ones(100, dtype=bool)
    thresholds = thresholds_for(probability, answerable)
    for name, rate in DECLINE_RATES.items():
        assert (probability < thresholds[name]).mean() <= rate
    assert thresholds["lenient"] <= thresholds["normal"] <= thresholds["strict"]


def test_questions_declined_whatever_their_probability_use_up_the_same_share() -> None:
    """Answerable questions the rule on what was asked declines count as declined: the
    thresholds leave room only for the rest of each strictness's share."""
    probability = np.linspace(0.01, 0.99, 100)
    answerable = np.ones(100, dtype=bool)
    declined = np.zeros(100, dtype=bool)
    declined[[50, 90]] = True  # sure-looking quotes that lack what was asked
    alone = thresholds_for(probability, answerable)
    thresholds = thresholds_for(probability, answerable, declined)
    for name, rate in DECLINE_RATES.items():
        assert (declined | (probability < thresholds[name])).mean() <= rate
        assert thresholds[name] < alone[name]
    # More than a share declined already: the thresholds decline nothing more.
    declined[[10, 30]] = True
    thresholds = thresholds_for(probability, answerable, declined)
    assert not (probability < thresholds["lenient"]).any()


def test_the_shipped_model_matches_the_features_and_survives_a_round_trip(
    tmp_path: Path,
) -> None:
    shipped = ModelSet.load()
    for semantic in (True, False):
        model = shipped.for_mode(semantic)
        assert model.sentences.names == feature_names("sentence", semantic)
        assert set(model.thresholds) == set(DECLINE_RATES)
    shipped.save(tmp_path / "model.json")
    again = ModelSet.load(tmp_path / "model.json")
    assert again.for_mode(True).decision.weights.tolist() == (
        shipped.for_mode(True).decision.weights.tolist()
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace('"dense_best"', '"something_else"'), "other features"),
        (lambda t: t.replace('"bias": ', '"bias": NaN, "x": ', 1), "malformed"),
        (lambda t: "{ not json", "malformed"),
    ],
)
def test_a_damaged_model_file_is_refused_with_one_line(
    tmp_path: Path, change: object, message: str
) -> None:
    path = tmp_path / "model.json"
    ModelSet({m: AnswerModel.untrained(m) for m in (True, False)}).save(path)
    path.write_text(change(path.read_text()))  # type: ignore[operator]
    with pytest.raises(ModelFileError, match=message) as raised:
        ModelSet.load(path)
    assert "\n" not in str(raised.value)
