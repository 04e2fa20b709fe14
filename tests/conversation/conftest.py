"""The conversation rules run through every platform, so this folder uses both harnesses."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).parents[1]
for harness in ("matrix_bot", "discord_bot"):
    if str(TESTS / harness) not in sys.path:
        sys.path.insert(0, str(TESTS / harness))
