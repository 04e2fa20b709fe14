"""compose.yaml, linted without a Docker engine: it parses, and it runs Samizdat correctly.

No Docker engine (or `docker compose`) runs on the machines that test this project, so the
file is read as YAML and held to what matters for Samizdat: every command is one the
`samizdat` parser accepts, the Discord processes' shards cover the fleet exactly once with
shard 0 in one of them, one process serves the Matrix account, every SAMIZDAT_ variable is
one the bot knows, secrets come from the environment, volumes are declared, and the index
is written by one service and read-only in the others.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from bot.__main__ import _parser, _with_shards
from bot.config import Config, parse_shards, unknown_variables

ROOT = Path(__file__).parents[1]
TOP_LEVEL = {"name", "services", "volumes", "networks", "configs", "secrets"}
SERVICE_KEYS = {
    "image", "build", "command", "environment", "volumes", "depends_on", "restart",
    "healthcheck", "stop_grace_period",
}  # fmt: skip
SECRETS = ("TOKEN", "PASSWORD", "DATABASE_URL")


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _bots(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("command", [None, None])[:2] == ["samizdat", "run"]
    }


def test_the_file_has_only_keys_compose_knows() -> None:
    compose = _compose()
    assert {k for k in compose if not k.startswith("x-")} <= TOP_LEVEL
    for name, service in compose["services"].items():
        assert set(service) <= SERVICE_KEYS, name
        assert isinstance(service.get("environment", {}), dict), name
        for mount in service.get("volumes", []):
            assert re.fullmatch(r"[\w-]+:/[\w/.-]+(:ro)?", mount), mount


def test_every_bot_command_is_one_samizdat_accepts() -> None:
    for name, service in _bots(_compose()).items():
        args = _parser().parse_args(service["command"][1:])
        _with_shards(Config(), args)  # shards checked as the CLI checks them
        assert args.platform in {"discord", "matrix"}, name


def test_discord_shards_cover_the_fleet_once_and_one_process_has_shard_0() -> None:
    ranges = []
    for service in _bots(_compose()).values():
        args = _parser().parse_args(service["command"][1:])
        if args.platform == "discord":
            ranges.append((parse_shards(args.shards, args.shard_count), args.shard_count))
    assert len(ranges) >= 2, "a fleet has several Discord processes"
    counts = {count for _, count in ranges}
    assert len(counts) == 1, "every process must agree on the shard count"
    every = sorted(shard for ids, _ in ranges for shard in ids)
    assert every == list(range(counts.pop())), "each shard run by exactly one process"
    assert sum(0 in ids for ids, _ in ranges) == 1


def test_one_process_serves_the_matrix_account() -> None:
    matrix = [s for s in _bots(_compose()).values() if s["command"][2] == "matrix"]
    assert len(matrix) == 1


def test_bots_share_postgres_and_know_every_variable_they_are_given() -> None:
    compose = _compose()
    for name, service in _bots(compose).items():
        environment = service["environment"]
        assert unknown_variables(environment) == [], name
        assert str(environment["SAMIZDAT_DATABASE_URL"]).startswith("postgresql://"), name
        for variable, value in environment.items():
            if variable.endswith(SECRETS):
                # From the operator's .env, never written in the file.
                assert "${" in str(value), f"{name}: {variable} is written in the file"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert service["depends_on"]["index"]["condition"] == "service_completed_successfully"
    assert "healthcheck" in compose["services"]["postgres"]


def test_the_index_is_built_once_and_read_only_in_every_bot() -> None:
    compose = _compose()
    declared = set(compose["volumes"])
    for name, service in compose["services"].items():
        for mount in service.get("volumes", []):
            assert mount.split(":")[0] in declared, f"{name}: undeclared volume {mount}"
    assert compose["services"]["index"]["command"] == ["samizdat", "index"]
    assert "index:/data/index" in compose["services"]["index"]["volumes"]
    for name, service in _bots(compose).items():
        assert "index:/data/index:ro" in service["volumes"], name
        own = [m for m in service["volumes"] if m.endswith(":/data")]
        assert len(own) == 1, f"{name} needs a volume of its own for /data"
