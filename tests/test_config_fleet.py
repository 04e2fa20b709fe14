"""The fleet's configuration: the database URL is a secret, shards are checked."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from bot.config import Config, ConfigError, DiscordConfig, load_config


def test_the_database_url_is_a_secret_kept_out_of_files(tmp_path: Path) -> None:
    config_file = tmp_path / "samizdat.toml"
    config_file.write_text('database_url = "postgresql://bot:hunter2@db/samizdat"\n')
    with pytest.raises(ConfigError, match="SAMIZDAT_DATABASE_URL"):
        load_config(config_file)


def test_the_url_and_its_password_are_kept_out_of_the_log() -> None:
    config = Config(database_url=SecretStr("postgresql://bot:hunter2@db:5432/samizdat"))
    secrets = {secret.get_secret_value() for secret in config.secrets}
    assert {"postgresql://bot:hunter2@db:5432/samizdat", "hunter2"} <= secrets
    assert "hunter2" not in repr(config)
    assert config.postgres_url is not None


def test_sqlite_urls_name_the_file_and_other_schemes_are_refused(tmp_path: Path) -> None:
    config = Config(database_url=SecretStr(f"sqlite:///{tmp_path}/bot.db"))
    assert config.postgres_url is None and config.database_path == tmp_path / "bot.db"
    with pytest.raises(ValidationError, match="postgresql://"):
        Config(database_url=SecretStr("mysql://db/samizdat"))


@pytest.mark.parametrize(
    ("shards", "count"), [("0-3", None), (None, 4), ("3-1", 4), ("0-4", 4), ("1,1", 4)]
)
def test_shards_must_fit_the_count(shards: str | None, count: int | None) -> None:
    with pytest.raises(ValidationError, match="shard"):
        DiscordConfig(shards=shards, shard_count=count)


def test_no_shards_is_the_default_unsharded_bot() -> None:
    assert DiscordConfig().shard_ids is None
    assert DiscordConfig(shards="0,2-3", shard_count=4).shard_ids == [0, 2, 3]
