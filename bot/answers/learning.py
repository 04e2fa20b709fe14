"""The three small models behind an answer, fitted with numpy, stored as plain numbers.

- passages: logistic regression, the probability that a passage holds the answer;
- sentences: a listwise (softmax) model over one question's candidate sentences, which one
  answers it;
- decision: logistic regression, the probability that the library answers the question.

Features are standardised with the training set's means and deviations, and every weight
has the same L2 penalty: nothing here is tuned by hand. The thresholds on the decision
probability are fitted too: each strictness is a target rate of wrongly declined questions,
and its threshold is the probability that meets it on questions the model was not fitted on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, ValidationError

Matrix = NDArray[np.float64]

L2 = 1.0
LISTWISE_STEPS = 400
LISTWISE_RATE = 0.05
# How often each strictness may decline a question the library answers (a product choice,
# stated in the README, not fitted): the threshold that meets it is fitted.
DECLINE_RATES = {"lenient": 0.02, "normal": 0.05, "strict": 0.12}
FORMAT = 1
STAGES = ("passage", "sentence", "decision")


class ModelFileError(Exception):
    """The answer model file is missing, unreadable, or made for other features."""


@dataclass(frozen=True)
class Standardised:
    """A linear model over standardised features: score = ((x - mean) / scale) · w + bias."""

    names: tuple[str, ...]
    mean: NDArray[np.float64]
    scale: NDArray[np.float64]
    weights: NDArray[np.float64]
    bias: float

    def score(
        self, features: Matrix, gate: NDArray[np.float64] | None = None
    ) -> NDArray[np.float64]:
        """`gate` scales each standardised feature (by column, or by row and column): a
        feature gated to 0 sits at its training mean and says nothing."""
        if features.shape[1] != len(self.names):
            raise ValueError(f"expected {len(self.names)} features, got {features.shape[1]}")
        z = (features - self.mean) / self.scale
        if gate is not None:
            z = z * gate
        return np.asarray(z @ self.weights + self.bias, dtype=np.float64)

    def probability(
        self, features: Matrix, gate: NDArray[np.float64] | None = None
    ) -> NDArray[np.float64]:
        return 1.0 / (1.0 + np.exp(-np.clip(self.score(features, gate), -50, 50)))

    def to_data(self) -> LinearData:
        return LinearData(
            names=list(self.names),
            mean=self.mean.tolist(),
            scale=self.scale.tolist(),
            weights=self.weights.tolist(),
            bias=self.bias,
        )

    @classmethod
    def from_data(cls, data: LinearData, names: Sequence[str]) -> Standardised:
        if tuple(data.names) != tuple(names):
            raise ModelFileError(f"the model was fitted on other features: {data.names}")
        arrays = [np.asarray(a, dtype=np.float64) for a in (data.mean, data.scale, data.weights)]
        if any(a.shape != (len(names),) for a in arrays) or (arrays[1] <= 0).any():
            raise ModelFileError("the model's numbers do not fit its features")
        mean, scale, weights = arrays
        return cls(tuple(names), mean, scale, weights, data.bias)


class LinearData(BaseModel):
    """A linear model as stored: finite numbers only."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    names: list[str]
    mean: list[float]
    scale: list[float]
    weights: list[float]
    bias: float


class AnswerModelData(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    semantic: bool
    passages: LinearData
    sentences: LinearData
    decision: LinearData
    thresholds: dict[str, float]


class ModelFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: int
    fitted_on: list[str] = []
    models: list[AnswerModelData]


def _standardise(features: Matrix) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    mean = features.mean(axis=0) if len(features) else np.zeros(features.shape[1])
    scale = features.std(axis=0) if len(features) else np.ones(features.shape[1])
    scale[scale < 1e-9] = 1.0
    return mean, scale


def fit_logistic(
    names: Sequence[str],
    features: Matrix,
    labels: NDArray[np.bool_],
    gates: Matrix | None = None,
    signs: Sequence[int] | None = None,
) -> Standardised:
    """L2-penalised logistic regression by Newton's method (the bias is not penalised).

    `gates` (rows x columns) scale the standardised features as `Standardised.score` will.
    `signs` (+1, -1, or 0 for either) state which way a feature may push: a feature whose
    fitted weight points the other way is left out and the rest refitted, until none does.
    With few examples, correlated features can otherwise take opposite weights that cancel
    on the training questions and add up, far from them, to nonsense."""
    mean, scale = _standardise(features)
    standard = (features - mean) / scale
    if gates is not None:
        standard = standard * gates
    allowed = np.asarray(signs if signs is not None else [0] * len(names))
    active = np.ones(len(names), dtype=bool)
    while True:
        w = _newton_logistic(standard[:, active], labels.astype(np.float64))
        weights = np.zeros(len(names))
        weights[active] = w[:-1]
        wrong = active & (allowed * weights < 0)
        if not wrong.any():
            return Standardised(tuple(names), mean, scale, weights, float(w[-1]))
        active &= ~wrong


def _newton_logistic(standard: Matrix, y: NDArray[np.float64]) -> NDArray[np.float64]:
    z = np.hstack([standard, np.ones((len(standard), 1))])
    w = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], L2)
    penalty[-1] = 1e-6
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -50, 50)))
        gradient = z.T @ (p - y) + penalty * w
        hessian = (z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return w


Group = tuple[Matrix, NDArray[np.bool_], NDArray[np.float64]]


def fit_listwise(names: Sequence[str], groups: Sequence[Group]) -> Standardised:
    """Softmax over each group's rows; maximise the probability of the group's positive rows.

    Groups with no positive row (the answer is in no candidate sentence) teach nothing and
    are skipped. Deterministic full-batch Adam from zero.
    """
    useful = [(x, y, g) for x, y, g in groups if len(x) and y.any()]
    width = len(names)
    if not useful:
        return Standardised(tuple(names), np.zeros(width), np.ones(width), np.zeros(width), 0.0)
    features = np.vstack([x for x, _, _ in useful])
    mean, scale = _standardise(features)
    gates = np.vstack([np.broadcast_to(g, x.shape) for x, _, g in useful])
    z = (features - mean) / scale * gates
    y = np.concatenate([labels for _, labels, _ in useful]).astype(np.float64)
    sizes = np.array([len(x) for x, _, _ in useful])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    group = np.repeat(np.arange(len(useful)), sizes)
    w = np.zeros(width)
    m = np.zeros(width)
    v = np.zeros(width)
    for step in range(1, LISTWISE_STEPS + 1):
        s = z @ w
        s = s - np.maximum.reduceat(s, starts)[group]
        e = np.exp(s)
        p = e / np.add.reduceat(e, starts)[group]
        ey = e * y
        q = ey / np.add.reduceat(ey, starts)[group]
        gradient = z.T @ (p - q) / len(useful) + L2 * w / len(useful)
        m = 0.9 * m + 0.1 * gradient
        v = 0.999 * v + 0.001 * gradient**2
        w -= LISTWISE_RATE * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    return Standardised(tuple(names), mean, scale, w, 0.0)


def thresholds_for(
    probability: NDArray[np.float64],
    answerable: NDArray[np.bool_],
    declined: NDArray[np.bool_] | None = None,
) -> dict[str, float]:
    """Per strictness, the decision probability below which the bot declines: the highest
    that declines at most that strictness's share of the answerable questions given.
    `declined` marks questions declined whatever their probability (their quote lacks what
    was asked); they count against the same share."""
    if declined is not None:
        probability = np.where(declined, 0.0, probability)
    known = np.sort(probability[answerable])
    if len(known) == 0:
        return {name: 0.5 for name in DECLINE_RATES}
    result = {}
    for name, rate in DECLINE_RATES.items():
        allowed = int(np.floor(rate * len(known)))  # questions that may fall below
        result[name] = float(known[allowed]) if allowed < len(known) else float(known[-1])
    return result


@dataclass(frozen=True)
class AnswerModel:
    """The three models and the thresholds, for one set of features (with or without the
    semantic layer)."""

    semantic: bool
    passages: Standardised
    sentences: Standardised
    decision: Standardised
    thresholds: dict[str, float]

    @classmethod
    def untrained(cls, semantic: bool) -> AnswerModel:
        """All weights zero: a starting point for fitting, never for answering."""
        from bot.answers.features import feature_names

        def zero(stage: str) -> Standardised:
            n = len(feature_names(stage, semantic))
            names = feature_names(stage, semantic)
            return Standardised(names, np.zeros(n), np.ones(n), np.zeros(n), 0.0)

        return cls(
            semantic,
            zero("passage"),
            zero("sentence"),
            zero("decision"),
            {name: 0.5 for name in DECLINE_RATES},
        )

    def threshold(self, strictness: str) -> float:
        return self.thresholds.get(strictness, self.thresholds["normal"])

    def to_data(self) -> AnswerModelData:
        return AnswerModelData(
            semantic=self.semantic,
            passages=self.passages.to_data(),
            sentences=self.sentences.to_data(),
            decision=self.decision.to_data(),
            thresholds=self.thresholds,
        )

    @classmethod
    def from_data(cls, data: AnswerModelData) -> AnswerModel:
        from bot.answers.features import feature_names

        if set(data.thresholds) != set(DECLINE_RATES):
            raise ModelFileError("the model's thresholds do not name every strictness")
        names = {stage: feature_names(stage, data.semantic) for stage in STAGES}
        return cls(
            data.semantic,
            Standardised.from_data(data.passages, names["passage"]),
            Standardised.from_data(data.sentences, names["sentence"]),
            Standardised.from_data(data.decision, names["decision"]),
            dict(data.thresholds),
        )


@dataclass(frozen=True)
class ModelSet:
    """The fitted models the package ships: one with the semantic layer, one without."""

    models: dict[bool, AnswerModel]
    fitted_on: tuple[str, ...] = ()

    def for_mode(self, semantic: bool) -> AnswerModel:
        if semantic not in self.models:
            which = "with" if semantic else "without"
            raise ModelFileError(f"the answer model has no fit {which} the semantic layer")
        return self.models[semantic]

    @classmethod
    def untrained(cls) -> ModelSet:
        return cls({mode: AnswerModel.untrained(mode) for mode in (True, False)})

    def save(self, path: Path) -> None:
        data = ModelFile(
            format=FORMAT,
            fitted_on=list(self.fitted_on),
            models=[m.to_data() for m in self.models.values()],
        )
        path.write_text(data.model_dump_json(indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path | None = None) -> ModelSet:
        """The given file, or the one shipped with the package."""
        where = path or Path(str(resources.files("bot"))) / "answers" / "answer_model.json"
        try:
            data = ModelFile.model_validate_json(where.read_bytes())
        except OSError as exc:
            raise ModelFileError(f"cannot read the answer model {where}: {exc.strerror}") from None
        except ValidationError as exc:
            first = str(exc).splitlines()[:2]
            raise ModelFileError(
                f"the answer model {where} is malformed: {' '.join(first)}"
            ) from None
        if data.format != FORMAT:
            raise ModelFileError(f"{where} has format {data.format}, this version reads {FORMAT}")
        models = [AnswerModel.from_data(m) for m in data.models]
        return cls({m.semantic: m for m in models}, tuple(data.fitted_on))
