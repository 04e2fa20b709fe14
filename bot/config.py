"""The bot's configuration: one validated model, read from TOML and the environment.

Built once at the entry point and passed down; nothing here is a module-level instance.
Environment variables (``SAMIZDAT_<SECTION>__<KEY>``) override the file, so secrets never
need to be written into it, and the file may not hold them.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from types import UnionType
from typing import Annotated, Literal, Union, get_args, get_origin

import platformdirs
from dotenv import dotenv_values
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

ENV_PREFIX = "SAMIZDAT_"
# Read by the entry point to find the file; a known variable, though not a setting.
CONFIG_FILE_VARIABLE = "SAMIZDAT_CONFIG"

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


def _blank_is_none(value: object) -> object:
    """An empty path means "the default" in the file as in the environment, never ".".

    `Path("")` is the current folder: a blank `database` or `library.path` would otherwise
    write into (or read) wherever the bot happened to be started.
    """
    return None if isinstance(value, str) and not value.strip() else value


OptionalPath = Annotated[Path | None, BeforeValidator(_blank_is_none)]


class _Section(BaseModel):
    # Infinity and NaN pass `gt=0`-style bounds and turn every BM25 score into NaN.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class LibraryConfig(_Section):
    """Where the documents come from."""

    path: OptionalPath = Field(
        None, description="Folder of documents with a catalogue.toml; empty = the bundled library."
    )
    extra_paths: list[Path] = Field(
        default_factory=list, description="More folders of documents added to the library."
    )
    passage_max_chars: int = Field(700, ge=200, le=5000)
    upload_max_bytes: int = Field(
        20_000_000, ge=1_000, description="Largest file an admin may add to a shelf, in bytes."
    )
    shelf_max_bytes: int = Field(
        200_000_000, ge=1_000, description="Largest total of one place's added files, in bytes."
    )
    upload_read_seconds: float = Field(
        60, gt=0, le=3600, description="Time one file may take to read before it is refused."
    )
    upload_read_memory_mb: int = Field(
        1500, ge=200, description="Memory the worker that reads one file may use, in MB."
    )


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
    # Under 900: Discord lets a bot edit an interaction's reply (to disable its buttons)
    # for 15 minutes only.
    view_timeout_seconds: float = Field(600, gt=0, lt=900)
    shards: Annotated[str | None, BeforeValidator(_blank_is_none)] = Field(
        None,
        description='The shards this process runs, e.g. "0-3" or "0,2,4-5"; needs shard_count.',
    )
    shard_count: int | None = Field(
        None, ge=1, le=100_000, description="Shards of the whole fleet (all processes)."
    )

    @model_validator(mode="after")
    def _shards_fit_the_count(self) -> DiscordConfig:
        if (self.shards is None) != (self.shard_count is None):
            raise ValueError(
                'shards and shard_count go together (e.g. shards = "0-3", shard_count = 16)'
            )
        if self.shards is not None and self.shard_count is not None:
            parse_shards(self.shards, self.shard_count)
        return self

    @property
    def shard_ids(self) -> list[int] | None:
        """The shards this process runs, or None when it runs unsharded (the default)."""
        if self.shards is None or self.shard_count is None:
            return None
        return parse_shards(self.shards, self.shard_count)


def parse_shards(spec: str, count: int) -> list[int]:
    """Shard ids from "0-3" or "0,2,4-5"; each below `count`, none twice."""
    ids: list[int] = []
    for part in spec.replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            raise ValueError(f"shards: {part!r} is not a shard number or a range like 0-3")
        low, high = int(first), int(last or first)
        if low > high or high >= count:
            raise ValueError(
                f"shards: {part!r} must lie within 0-{count - 1} (shard_count {count})"
            )
        ids.extend(range(low, high + 1))
    if len(set(ids)) != len(ids):
        raise ValueError("shards: a shard is named twice")
    return ids


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


class HealthConfig(_Section):
    """The HTTP endpoint for health checks and Prometheus metrics (off unless enabled)."""

    enabled: bool = Field(False, description="Serve /healthz, /readyz and /metrics.")
    host: str = Field("127.0.0.1", min_length=1, description="Address to listen on.")
    port: int = Field(8080, ge=0, le=65535, description="Port to listen on (0: any free one).")


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("samizdat", appauthor=False))


class Config(BaseSettings):
    """Everything the bot reads at start."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        # `SAMIZDAT_DATABASE=` is documented as "the default", not as the path "".
        env_ignore_empty=True,
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    database: OptionalPath = Field(None, description="SQLite file; empty = <data_dir>/samizdat.db.")
    database_url: SecretStr | None = Field(
        None,
        description="postgresql://user:password@host/db for a fleet of processes, or "
        "sqlite:///path; empty = the SQLite file `database`. Set SAMIZDAT_DATABASE_URL.",
    )
    log_level: LogLevel = Field(
        "INFO", description="The bot's own log level; other libraries log at INFO at most."
    )
    log_levels: dict[str, LogLevel] = Field(
        default_factory=dict,
        description='Levels for other loggers by name, e.g. {"nio" = "DEBUG"}.',
    )
    library: LibraryConfig = LibraryConfig()
    retrieval: RetrievalConfig = RetrievalConfig()
    answers: AnswerConfig = AnswerConfig()
    limits: LimitsConfig = LimitsConfig()
    discord: DiscordConfig = DiscordConfig()
    matrix: MatrixConfig = MatrixConfig()
    health: HealthConfig = HealthConfig()

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

    @field_validator("data_dir", mode="before")
    @classmethod
    def _blank_data_dir_is_the_default(cls, value: object) -> object:
        """A blank data_dir would write the database and index into the current folder."""
        return default_data_dir() if _blank_is_none(value) is None else value

    @field_validator("database_url", mode="before")
    @classmethod
    def _known_database_url(cls, value: object) -> object:
        """Only the two backends Samizdat has; the message never repeats the URL (a secret)."""
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        if not isinstance(raw, str) or not raw.strip().startswith(_DATABASE_SCHEMES):
            raise ValueError("must start with postgresql://, postgres:// or sqlite:///")
        return raw.strip()

    @property
    def secrets(self) -> list[SecretStr]:
        """Every secret configured, so the log can be kept free of them."""
        found = [_value_at(self, key) for key in secret_keys()]
        secrets = [secret for secret in found if isinstance(secret, SecretStr)]
        # A URL's password alone is logged by some libraries: it is a secret of its own.
        password = self.postgres_password
        return secrets + ([SecretStr(password)] if password else [])

    @property
    def postgres_url(self) -> str | None:
        """The PostgreSQL URL when the bot keeps its data there, else None (SQLite)."""
        url = self.database_url.get_secret_value() if self.database_url else None
        return url if url is not None and url.startswith(("postgresql://", "postgres://")) else None

    @property
    def postgres_password(self) -> str | None:
        url = self.postgres_url
        if url is None:
            return None
        return urllib.parse.urlsplit(url).password or None

    @property
    def database_path(self) -> Path:
        url = self.database_url.get_secret_value() if self.database_url else None
        if url is not None and url.startswith("sqlite:///"):
            return Path(urllib.parse.unquote(url.removeprefix("sqlite:///")))
        return self.database or self.data_dir / "samizdat.db"


_DATABASE_SCHEMES = ("postgresql://", "postgres://", "sqlite:///")


def _value_at(config: Config, key: str) -> object:
    """The value of a dotted key (`matrix.password`) or a top-level one (`database_url`)."""
    value: object = config
    for part in key.split("."):
        value = getattr(value, part)
    return value


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


def _is_section(annotation: object) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _is_structured(annotation: object) -> bool:
    """Whether pydantic-settings reads this field's variable as JSON (lists, tables, sections)."""
    origin = get_origin(annotation)
    if origin in (Union, UnionType):
        return any(_is_structured(arg) for arg in get_args(annotation))
    return origin in (list, dict, set, tuple) or _is_section(annotation)


def _json_example(annotation: object) -> str:
    return '["first", "second"]' if get_origin(annotation) is list else '{"key": "value"}'


def _is_secret(annotation: object) -> bool:
    return annotation is SecretStr or SecretStr in get_args(annotation)


def _fields() -> dict[str, object]:
    """Every setting by dotted key (`retrieval.k1`), sections included, with its type."""
    found: dict[str, object] = {}
    for name, field in Config.model_fields.items():
        found[name] = field.annotation
        if _is_section(field.annotation):
            assert isinstance(field.annotation, type)
            for key, inner in field.annotation.model_fields.items():
                found[f"{name}.{key}"] = inner.annotation
    return found


def variable_of(key: str) -> str:
    """The environment variable that sets a dotted key: `retrieval.k1` -> SAMIZDAT_RETRIEVAL__K1."""
    return ENV_PREFIX + key.replace(".", "__").upper()


def secret_keys() -> list[str]:
    return [key for key, annotation in _fields().items() if _is_secret(annotation)]


def _check_secrets_not_in_file(data: Mapping[str, object], path: Path) -> None:
    """A secret in a file that is shared, copied and committed is a secret no longer."""
    for key in secret_keys():
        *sections, name = key.split(".")
        table: object = data
        for section in sections:
            table = table.get(section) if isinstance(table, dict) else None
        if isinstance(table, dict) and name in table:
            raise ConfigError(
                f"`{key}` must not be in the configuration file {path}: secrets come only from "
                f"the environment or a .env file; set {variable_of(key)} instead"
            )


def _check_json_values(values: Mapping[str, str | None], where: str) -> None:
    """Name the variable whose list or table is not JSON (pydantic-settings names the section)."""
    structured = {variable_of(k): (k, a) for k, a in _fields().items() if _is_structured(a)}
    for name, value in values.items():
        if name.upper() not in structured or value is None or not value.strip():
            continue
        key, annotation = structured[name.upper()]
        try:
            json.loads(value)
        except ValueError:
            raise ConfigError(
                f"{name}{where} (`{key}`) must be JSON, for example {_json_example(annotation)}"
            ) from None


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """`SAMIZDAT_` variables that set nothing, each with the likely meant one if there is one.

    pydantic-settings ignores them without a word, so a misspelt override would silently
    leave the default in force.
    """
    fields = _fields()
    known = {variable_of(key) for key in fields} | {CONFIG_FILE_VARIABLE}
    tables = [variable_of(k) + "__" for k, a in fields.items() if get_origin(a) is dict]
    found = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in known or upper.startswith(tuple(tables)):
            continue
        # Compared without the prefix, which every name shares and would make all look alike.
        names = {k.removeprefix(ENV_PREFIX): k for k in known}
        close = difflib.get_close_matches(upper.removeprefix(ENV_PREFIX), sorted(names), n=1)
        hint = f"; did you mean {names[close[0]]}?" if close else ""
        found.append(f"unknown environment variable {name} is ignored{hint}")
    return found


_TABLE = re.compile(r"^\s*\[+\s*([^\]]+?)\s*\]+")
_KEY = re.compile(r"^\s*([A-Za-z0-9_.\-\"']+)\s*=")


def _where_in_toml(raw: bytes, offset: int) -> str:
    """`line 3 (retrieval.k1)`: where a byte sits in a TOML file, for a one-line message."""
    lines = raw[:offset].decode("utf-8", "replace").split("\n")
    here = raw[offset:].split(b"\n", 1)[0].decode("utf-8", "replace")
    line = lines[-1] + here
    table = next((m[1] for text in reversed(lines) if (m := _TABLE.match(text))), None)
    key = _KEY.match(line)
    if key is None:
        return f"line {len(lines)}"
    dotted = f"{table}.{key[1]}" if table else key[1]
    return f"line {len(lines)} (`{dotted}`)"


def _read_toml(path: Path) -> dict[str, object]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = _where_in_toml(raw, exc.start)
        raise ConfigError(f"configuration {path} is not UTF-8 text: {where}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration {path} is not valid TOML: {exc}") from None


def _read_env_file(env_file: Path) -> dict[str, str | None]:
    try:
        return dotenv_values(env_file, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{env_file} is not UTF-8 text: byte {exc.start}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {env_file}: {exc.strerror}") from None


def load_config(path: Path | None = None, env_file: Path | None = None) -> Config:
    """Read the TOML file (if any), then the environment over it, and validate both."""
    data: dict[str, object] = {}
    if path is not None:
        data = _read_toml(path)
        _check_secrets_not_in_file(data, path)
    _check_json_values(os.environ, " in the environment")
    if env_file is not None:
        _check_json_values(_read_env_file(env_file), f" in {env_file}")
    try:
        return Config(_env_file=env_file, **data)  # type: ignore[arg-type]
    except ValidationError as exc:
        where = f" in {path}" if path else ""
        raise ConfigError(f"configuration error{where}: {describe_validation_error(exc)}") from None
    except SettingsError as exc:  # a value the checks above did not foresee
        raise ConfigError(f"configuration error: {exc}") from None
