"""Which fold each question belongs to, so nothing is scored by a model fitted on it.

Folds are stratified by question type (each fold gets its share of the rare unanswerable
questions) and grouped (a translation always sits in the fold of the question it
translates). The assignment depends only on the questions' ids and a seed, never on their
order. Seed 0 is the assignment the README's tables use; other seeds draw other assignments
of the same kind, so a figure can be averaged over several instead of resting on one draw.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence

from bot.evaluation.metrics import EvalQuestion


def _stable(key: str, seed: int) -> str:
    salted = f"{seed}:{key}" if seed else key
    return hashlib.blake2b(salted.encode(), digest_size=8).hexdigest()


def assign_folds(questions: Sequence[EvalQuestion], folds: int, seed: int = 0) -> list[int]:
    """The fold (0 to `folds` - 1) of each question, in the order given."""
    if folds < 2:
        raise ValueError("cross-validation needs at least 2 folds")
    groups: dict[str, list[int]] = defaultdict(list)
    kind: dict[str, str] = {}
    for i, q in enumerate(questions):
        groups[q.group_key].append(i)
        kind.setdefault(q.group_key, q.type)
    by_type: dict[str, list[str]] = defaultdict(list)
    for key in groups:
        by_type[kind[key]].append(key)
    result = [0] * len(questions)
    offset = 0
    for type_name in sorted(by_type):
        for n, key in enumerate(sorted(by_type[type_name], key=lambda k: _stable(k, seed))):
            for i in groups[key]:
                result[i] = (offset + n) % folds
        offset += len(by_type[type_name])  # the next type starts where this one ended
    return result
