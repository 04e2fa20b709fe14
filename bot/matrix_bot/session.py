"""One Matrix login kept across restarts: the device, its access token and its crypto store.

A restart reuses the saved device while its token works, so rooms see one bot device, and
the device's crypto store stays readable under its own key (kept with the session, in a
file only the bot's user can read).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from nio import AsyncClient, AsyncClientConfig, LoginError, WhoamiError
from nio.store import DefaultStore

from bot.config import MatrixConfig
from bot.matrix_bot.retry import NETWORK_ERRORS, until_reachable
from bot.startup import StartupError

log = logging.getLogger(__name__)

# The key nio encrypts a crypto store's secrets with unless given one: the same for every
# installation, so it protects nothing. Stores written with it are re-keyed at start.
NIO_DEFAULT_PICKLE_KEY: str = AsyncClientConfig().pickle_key


class MatrixLoginError(StartupError):
    """The bot cannot log in; the message says why, never with a secret in it."""


def new_pickle_key() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Session:
    """What a restart needs to be the same device again, crypto store included.

    `pickle_key` encrypts the device's keys in the crypto store; it lives here, in a file
    only the bot's user can read, and is made once per device. Empty in a session saved
    before keys were kept: that store still has nio's default key.
    """

    homeserver: str
    user_id: str
    device_id: str
    access_token: str
    pickle_key: str = ""

    @classmethod
    def load(cls, path: Path) -> Session | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                homeserver=str(data["homeserver"]),
                user_id=str(data["user_id"]),
                device_id=str(data["device_id"]),
                access_token=str(data["access_token"]),
                pickle_key=str(data.get("pickle_key") or ""),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("ignoring unreadable Matrix session file %s", path)
            return None

    def save(self, path: Path) -> None:
        private_dir(path.parent)
        tmp = path.with_suffix(".tmp")
        # The access token is a secret: the file is readable by the bot's user only.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(dataclasses.asdict(self), fh)
        tmp.replace(path)


def private_dir(path: Path) -> None:
    """Make `path` (and any missing parents) a folder only the bot's user can enter.

    An existing folder is tightened too: older versions made them 0755.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)


def private_files(folder: Path) -> None:
    """Files in `folder` readable by the bot's user only (nio creates its store 0644)."""
    for entry in folder.iterdir():
        if entry.is_file() and not entry.is_symlink():
            entry.chmod(0o600)


def rekey_crypto_store(
    store_dir: Path,
    user_id: str,
    device_id: str,
    pickle_key: str,
    old_key: str = NIO_DEFAULT_PICKLE_KEY,
) -> bool:
    """Re-encrypt a device's crypto store still under `old_key` (nio's default) with `pickle_key`.

    All or nothing, in one transaction, and only when the account opens with `old_key`: run
    again after a crash (or on a store already re-keyed) it does the rest, or nothing. True
    when it re-keyed.
    """
    if not (store_dir / f"{user_id}_{device_id}.db").is_file():
        return False
    store = DefaultStore(user_id, device_id, str(store_dir), old_key)
    try:
        try:
            account = store.load_account()
        except Exception:  # not under `old_key`: re-keyed already (nio raises several kinds)
            return False
        if account is None:
            return False
        olm_sessions = store.load_sessions()
        group_sessions = store.load_inbound_group_sessions()
        with store.database.atomic():
            store.pickle_key = pickle_key
            store.save_account(account)
            for sender_key, sessions in olm_sessions.items():
                for session in sessions:
                    store.save_session(sender_key, session)
            for group_session in group_sessions:
                store.save_inbound_group_session(group_session)
        return True
    finally:
        store.database.close()


class MatrixSession:
    """Logs `client` in as the configured account, reusing the saved device when it can."""

    def __init__(self, config: MatrixConfig, client: AsyncClient, folder: Path) -> None:
        self._config = config
        self.client = client
        self._session_path = folder / "session.json"
        self._crypto_dir = folder / "crypto"

    async def login(self) -> None:
        """Log in, waiting with backoff while the homeserver cannot be reached."""
        await until_reachable("login", self._login_once)

    async def log_in_again(self) -> None:
        """Synapse deleted the device and its keys: start a new one, new keys and all."""
        if self._config.password is None:
            raise MatrixLoginError("the Matrix access token was revoked")
        self._session_path.unlink(missing_ok=True)
        self.client.device_id = None
        await self.login()

    async def _login_once(self) -> None:
        """Reuse the saved device when its token still works; otherwise log in once more."""
        config = self._config
        assert config.homeserver and config.user_id
        saved = Session.load(self._session_path)
        if config.access_token is not None:
            token = config.access_token.get_secret_value()
            if saved and saved.access_token == token:
                device_id = saved.device_id
            else:
                device_id = await self._device_of(token)
            # The store's key belongs to the device: kept while the token names the same one.
            device = (config.user_id, device_id)
            same_device = saved is not None and (saved.user_id, saved.device_id) == device
            key = saved.pickle_key if saved is not None and same_device else ""
            self._restore(Session(config.homeserver, config.user_id, device_id, token, key))
            return
        if (
            saved
            and saved.homeserver == config.homeserver
            and saved.user_id == config.user_id
            and await self._token_works(saved)
        ):
            self._restore(saved)
            log.info("reusing Matrix device %s for %s", saved.device_id, saved.user_id)
            return
        assert config.password is not None
        # nio opens the new device's store as soon as the login succeeds, with this key.
        key = new_pickle_key()
        self._use_pickle_key(key)
        resp = await self.client.login(
            password=config.password.get_secret_value(), device_name=config.device_name
        )
        if isinstance(resp, LoginError):
            raise MatrixLoginError(f"Matrix login for {config.user_id} failed: {resp.message}")
        session = Session(config.homeserver, resp.user_id, resp.device_id, resp.access_token, key)
        session.save(self._session_path)
        self._after_store_opened()
        log.info("logged in to Matrix as %s, new device %s", resp.user_id, resp.device_id)

    async def _device_of(self, token: str) -> str:
        self.client.access_token = token
        resp = await self.client.whoami()
        if isinstance(resp, WhoamiError) or not resp.device_id:
            raise MatrixLoginError("the configured Matrix access token was not accepted")
        return str(resp.device_id)

    async def _token_works(self, session: Session) -> bool:
        self.client.access_token = session.access_token
        try:
            resp = await self.client.whoami()
        except NETWORK_ERRORS:
            # The homeserver is away; trust the saved token and let the sync loop wait.
            return True
        finally:
            self.client.access_token = ""
        if isinstance(resp, WhoamiError):
            log.warning("saved Matrix session no longer valid (%s); logging in again", resp.message)
            return False
        return True

    def _restore(self, session: Session) -> None:
        """Be `session`'s device again, with its crypto store under its own key."""
        if self._config.encryption:
            if not session.pickle_key:
                # Saved first: a store re-keyed with a key that was then lost is unreadable.
                session = dataclasses.replace(session, pickle_key=new_pickle_key())
            if session != Session.load(self._session_path):
                session.save(self._session_path)
            if rekey_crypto_store(
                self._crypto_dir, session.user_id, session.device_id, session.pickle_key
            ):
                log.info("crypto store of device %s re-keyed with its own key", session.device_id)
            self._use_pickle_key(session.pickle_key)
        self.client.restore_login(session.user_id, session.device_id, session.access_token)
        self._after_store_opened()

    def _use_pickle_key(self, key: str) -> None:
        self.client.config = dataclasses.replace(self.client.config, pickle_key=key)

    def _after_store_opened(self) -> None:
        if self._config.encryption:
            private_files(self._crypto_dir)
