"""The bot's configuration: one validated model, read from TOML and the environment.

Built once at the entry point and passed down; nothing here is a module-level instance.
Environment variables (``SAMIZDAT_<SECTION>__<KEY>``) override the file, so secrets never
need to be written into it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LibraryConfig(_Section):
    """Where the documents come from."""

    path: Path | None = Field(
        None, description="Folder of documents with a catalogue.toml; empty = the bundled library."
    )
    extra_paths: list[Path] = Field(
        default_factory=list, description="More folders of documents added to the library."
    )
    passage_max_chars: int = Field(700, ge=200, le=5000)


class RetrievalConfig(_Section):
    """What shapes the index. Changing any of these rebuilds it."""

    variant: Literal["okapi", "plus", "l"] = "okapi"
    k1: float = Field(1.2, gt=0)
    b: float = Field(0.75, ge=0, le=1)
    stemming: bool = True
    stop_words: bool = True
    index_title: bool = True
    index_section: bool = True
    top_k: int = Field(5, ge=1, le=50)
    engine: Literal["auto", "rank-bm25", "postings"] = Field(
        "auto", description="rank-bm25 for small libraries, the postings index for large ones."
    )
    semantic: Literal["auto", "on", "off"] = Field(
        "auto", description="Re-score BM25's passages with the bundled embedding model."
    )


class AnswerConfig(_Section):
    """How answers are composed."""

    max_sentences: int = Field(3, ge=1, le=5)
    closest_sections: int = Field(3, ge=1, le=10)


class LimitsConfig(_Section):
    """Protection against floods and pastes."""

    max_question_chars: int = Field(500, ge=10, le=20000)
    place_questions_per_minute: int = Field(30, ge=1)


class DiscordConfig(_Section):
    token: SecretStr | None = Field(None, description="Set SAMIZDAT_DISCORD__TOKEN instead.")
    message_content_intent: bool = Field(
        False, description="Read messages that mention the bot (needs the privileged intent)."
    )
    view_timeout_seconds: float = Field(600, gt=0)


class MatrixConfig(_Section):
    homeserver: str | None = None
    user_id: str | None = None
    password: SecretStr | None = Field(None, description="Set SAMIZDAT_MATRIX__PASSWORD instead.")
    access_token: SecretStr | None = Field(None, description="Or SAMIZDAT_MATRIX__ACCESS_TOKEN.")
    device_name: str = "samizdat"
    allowed_inviters: list[str] = Field(
        default_factory=list,
        description="Users (@u:server) or servers allowed to invite; empty = the bot's server.",
    )
    bot_admins: list[str] = Field(default_factory=list)
    backlog_max_age_seconds: int = Field(600, ge=0)
    encryption: bool = True


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("samizdat", appauthor=False))


class Config(BaseSettings):
    """Everything the bot reads at start."""

    model_config = SettingsConfigDict(
        env_prefix="SAMIZDAT_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    database: Path | None = Field(None, description="SQLite file; empty = <data_dir>/samizdat.db.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    library: LibraryConfig = LibraryConfig()
    retrieval: RetrievalConfig = RetrievalConfig()
    answers: AnswerConfig = AnswerConfig()
    limits: LimitsConfig = LimitsConfig()
    discord: DiscordConfig = DiscordConfig()
    matrix: MatrixConfig = MatrixConfig()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment wins over the file, which is passed in as init arguments.
        return (env_settings, dotenv_settings, init_settings)

    @property
    def database_path(self) -> Path:
        return self.database or self.data_dir / "samizdat.db"


class ConfigError(Exception):
    """The configuration cannot be used; the message says which key and what is allowed."""


def describe_validation_error(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            lines.append(f"unknown key `{key}`")
        else:
            lines.append(f"`{key}`: {item['msg']}")
    return "; ".join(lines)


def load_config(path: Path | None = None, env_file: Path | None = None) -> Config:
    """Read the TOML file (if any), then the environment over it, and validate both."""
    data: dict[str, object] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read configuration {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"configuration {path} is not valid TOML: {exc}") from None
    try:
        return Config(_env_file=env_file, **data)  # type: ignore[arg-type]
    except ValidationError as exc:
        where = f" in {path}" if path else ""
        raise ConfigError(f"configuration error{where}: {describe_validation_error(exc)}") from None
