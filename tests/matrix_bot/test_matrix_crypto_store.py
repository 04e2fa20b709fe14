"""The crypto store holds the bot's private keys: its own pickle key, and only its user reads it."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from matrix_harness import KUZBASS_QUESTION, Human, Login, Synapse, room_with_bot, running_bot
from nio import AsyncClient, LoginResponse
from nio.crypto import InboundGroupSession, OlmAccount, OutboundGroupSession, OutboundSession
from nio.store import DefaultStore
from pydantic import SecretStr

from bot.answers.engine import AnswerEngine
from bot.config import Config, MatrixConfig
from bot.matrix_bot.session import NIO_DEFAULT_PICKLE_KEY, Session, rekey_crypto_store

ROOM = "!room:localhost"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _store(folder: Path, user_id: str, device_id: str, key: str) -> DefaultStore:
    return DefaultStore(user_id, device_id, str(folder), key)


def _legacy_store(folder: Path) -> tuple[str, str, str]:
    """A store as nio writes it with its default key: an account, an Olm and a Megolm session.

    Returns the account's curve25519 key, the Olm session's id and the Megolm session's id.
    """
    account, peer = OlmAccount(), OlmAccount()
    peer.generate_one_time_keys(1)
    one_time_key = next(iter(peer.one_time_keys["curve25519"].values()))
    peer_key = peer.identity_keys["curve25519"]
    olm = OutboundSession(account, peer_key, one_time_key)
    megolm = InboundGroupSession(
        OutboundGroupSession().session_key,
        peer.identity_keys["ed25519"],
        peer_key,
        ROOM,
    )
    store = _store(folder, "@bot:localhost", "DEVICE", NIO_DEFAULT_PICKLE_KEY)
    try:
        store.save_account(account)
        store.save_session(peer_key, olm)
        store.save_inbound_group_session(megolm)
    finally:
        store.database.close()
    return str(account.identity_keys["curve25519"]), str(olm.id), str(megolm.id)


def test_a_store_under_nios_default_key_is_rekeyed_whole_and_only_once(tmp_path: Path) -> None:
    identity, olm_id, megolm_id = _legacy_store(tmp_path)

    assert rekey_crypto_store(tmp_path, "@bot:localhost", "DEVICE", "our own key")
    assert not rekey_crypto_store(tmp_path, "@bot:localhost", "DEVICE", "our own key")

    old = _store(tmp_path, "@bot:localhost", "DEVICE", NIO_DEFAULT_PICKLE_KEY)
    try:
        with pytest.raises(Exception):  # noqa: B017 - nio raises vodozemac's own errors
            old.load_account()
    finally:
        old.database.close()
    new = _store(tmp_path, "@bot:localhost", "DEVICE", "our own key")
    try:
        assert new.load_account().identity_keys["curve25519"] == identity
        assert [s.id for s in new.load_sessions()] == [olm_id]
        assert [s.id for s in new.load_inbound_group_sessions()] == [megolm_id]
    finally:
        new.database.close()


def test_a_missing_store_is_left_alone(tmp_path: Path) -> None:
    assert not rekey_crypto_store(tmp_path, "@bot:localhost", "DEVICE", "our own key")
    assert list(tmp_path.iterdir()) == []


def _assert_private(data_dir: Path, session: Session) -> None:
    matrix = data_dir / "matrix"
    crypto = matrix / "crypto"
    assert _mode(matrix) == 0o700 and _mode(crypto) == 0o700
    files = [f for f in crypto.iterdir() if f.is_file()]
    assert any(f.suffix == ".db" for f in files)
    assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
    assert _mode(matrix / "session.json") == 0o600
    assert session.pickle_key and session.pickle_key != NIO_DEFAULT_PICKLE_KEY


def _opens_with(crypto: Path, session: Session, key: str) -> bool:
    store = _store(crypto, session.user_id, session.device_id, key)
    try:
        return store.load_account() is not None
    except Exception:  # vodozemac's errors for a wrong key
        return False
    finally:
        store.database.close()


async def test_a_store_left_by_an_older_version_is_rekeyed_tightened_and_still_reads(
    engine: AnswerEngine, data_dir: Path, tmp_path: Path, bot_id: str, config: Config, login: Login
) -> None:
    human = await login(store_dir=tmp_path / "human-crypto")
    async with running_bot(config, engine):
        room = await room_with_bot(human, bot_id, encrypted=True)
        await human.sync(0)
        question = await human.say(room, f"!ask {KUZBASS_QUESTION}")
        assert (await human.reply_to(question, bot_id)).encrypted
    session_file = data_dir / "matrix" / "session.json"
    session = Session.load(session_file)
    assert session is not None
    crypto = data_dir / "matrix" / "crypto"
    _assert_private(data_dir, session)
    assert _opens_with(crypto, session, session.pickle_key)
    assert not _opens_with(crypto, session, NIO_DEFAULT_PICKLE_KEY)

    # As the version before this one left things: nio's default key, no key in the
    # session, a world-readable store in world-searchable folders.
    assert rekey_crypto_store(
        crypto, session.user_id, session.device_id, NIO_DEFAULT_PICKLE_KEY, session.pickle_key
    )
    saved = json.loads(session_file.read_text())
    del saved["pickle_key"]
    session_file.write_text(json.dumps(saved))
    for folder in (data_dir / "matrix", crypto):
        folder.chmod(0o755)
    for file in crypto.iterdir():
        file.chmod(0o644)

    async with running_bot(config, engine):
        again = await human.say(room, "!about")
        reply = await human.reply_to(again, bot_id)
        assert reply.encrypted and "Samizdat" in reply.content["body"]
    rekeyed = Session.load(session_file)
    assert rekeyed is not None and rekeyed.device_id == session.device_id
    _assert_private(data_dir, rekeyed)
    assert _opens_with(crypto, rekeyed, rekeyed.pickle_key)
    assert not _opens_with(crypto, rekeyed, NIO_DEFAULT_PICKLE_KEY)


async def test_a_bot_given_an_access_token_keeps_its_pickle_key_with_the_session(
    synapse: Synapse, engine: AnswerEngine, data_dir: Path, bot_id: str, human: Human
) -> None:
    client = AsyncClient(synapse.url, bot_id)
    try:
        login = await client.login(password=synapse.password, device_name="given")
        assert isinstance(login, LoginResponse)
    finally:
        await client.close()
    matrix = MatrixConfig(
        homeserver=synapse.url, user_id=bot_id, access_token=SecretStr(login.access_token)
    )
    config = Config(data_dir=data_dir, matrix=matrix)
    for _ in range(2):  # the second start finds the key it kept
        async with running_bot(config, engine):
            room = await room_with_bot(human, bot_id)
            question = await human.say(room, "!about")
            assert "Samizdat" in (await human.reply_to(question, bot_id)).content["body"]
        session = Session.load(data_dir / "matrix" / "session.json")
        assert session is not None and session.device_id == login.device_id
        _assert_private(data_dir, session)
        assert _opens_with(data_dir / "matrix" / "crypto", session, session.pickle_key)
