"""The Dockerfile installs and runs the bot the way the README says.

Lint, types and hadolint are checked by `scripts/check` (run by `.ci/run`), not from here.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_dockerfile_installs_like_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "python3 -m pip install . && samizdat" in readme
    assert "RUN python3 -m pip install ." in dockerfile
    assert "USER 10001" in dockerfile and 'VOLUME ["/data"]' in dockerfile
