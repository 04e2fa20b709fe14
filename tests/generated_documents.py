"""Documents made up on the spot, for tests and benchmarks that need a large upload."""

from __future__ import annotations

import random


def minutes(passages: int) -> bytes:
    """A Markdown document of `passages` paragraphs, each one passage, in sessions of 25."""
    rng = random.Random(11)
    words = (
        "assembly council delegate factory harvest railway strike union district village "
        "cooperative committee congress printer baker granary ledger meeting mandate bulletin"
    ).split()
    out = ["# Minutes of the assemblies"]
    for n in range(passages):
        if n % 25 == 0:
            out.append(f"## Session {n // 25 + 1}")
        sentences = [
            " ".join(rng.choice(words) for _ in range(12)).capitalize() + f" in {1800 + n % 200}."
            for _ in range(6)
        ]
        out.append(" ".join(sentences))
    return "\n\n".join(out).encode()
