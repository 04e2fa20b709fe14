"""No secret reaches the log, whichever library logs it and however it is written."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from bot.logs import LOG_FORMAT, REDACTED, RedactSecrets

PASSWORD = "correct horse battery staple"


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger writing through the redacting filter into a string, as the bot's handler does."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(RedactSecrets([PASSWORD]))
    logger = logging.getLogger("tests.redaction.nio.responses")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, out
    finally:
        logger.removeHandler(handler)


@pytest.mark.parametrize(
    ("template", "args", "secret"),
    [
        # What matrix-nio writes at DEBUG on login: the response, a Python dict.
        (
            "Validating response schema %r: %s",
            ({"type": "object"}, {"access_token": "syt_Ym90_QbWtuNqQ", "device_id": "ABC"}),
            "syt_Ym90_QbWtuNqQ",
        ),
        ('request body {"type": "m.login.password", "password": "%s"}', (PASSWORD,), PASSWORD),
        (
            "GET /_matrix/client/v3/sync?access_token=%s&since=s1",
            ("opaqueToken123",),
            "opaqueToken123",
        ),
        ("header Authorization: Bearer %s", ("opaque.Token-123",), "opaque.Token-123"),
        ("refresh_token = %s", ("opaqueToken123",), "opaqueToken123"),
        (
            "connecting with %s",
            ("MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs",),
            "MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs",
        ),
        ("the configured password, said plainly: %s!", (PASSWORD,), PASSWORD),
    ],
)
def test_secrets_are_redacted_whatever_their_form(
    logged: tuple[logging.Logger, io.StringIO], template: str, args: tuple[object, ...], secret: str
) -> None:
    logger, out = logged
    logger.debug(template, *args)
    written = out.getvalue()
    assert secret not in written
    assert REDACTED in written


def test_a_secret_in_an_exception_is_redacted(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = logged
    try:
        raise ValueError(f"login refused for password {PASSWORD}")
    except ValueError:
        logger.exception("login failed")
    written = out.getvalue()
    assert "ValueError" in written and "login failed" in written
    assert PASSWORD not in written


def test_ordinary_text_is_left_alone(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = logged
    logger.info("indexed %d tokens; sync batch %s; passage kuzbass:2", 1200, "s72_1")
    assert "indexed 1200 tokens; sync batch s72_1; passage kuzbass:2" in out.getvalue()
