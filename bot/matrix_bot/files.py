"""The file a `library add` replies to: found, downloaded, and decrypted in encrypted rooms.

Matrix has no attachments on commands: an admin uploads the file (`m.file`) and replies to
it with `!samizdat library add`. The file's event is remembered when the sync delivers it,
or fetched (and decrypted) by id; its bytes come from the homeserver's authenticated media
API, and an encrypted room's file is decrypted with the key its event carries.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nio import (
    AsyncClient,
    DownloadError,
    EncryptionError,
    MegolmEvent,
    RoomGetEventError,
)
from nio.crypto.attachments import decrypt_attachment

from bot.answers.shelves import Upload, UploadUnavailable

log = logging.getLogger(__name__)

# File events kept per process, newest last: enough for any admin's recent uploads.
REMEMBERED_FILES = 256


@dataclass(frozen=True)
class FileMessage:
    """An `m.file` event's file: its name, declared size, and where its bytes are."""

    name: str
    size: int | None
    url: str  # mxc://server/media-id
    encryption: Mapping[str, Any] | None = None  # the event's `file`: key, iv, hashes


def file_message(content: Mapping[str, Any]) -> FileMessage | None:
    """The file an `m.file` message carries, or None for any other message."""
    if content.get("msgtype") != "m.file":
        return None
    encrypted = content.get("file")
    url = encrypted.get("url") if isinstance(encrypted, Mapping) else content.get("url")
    if not isinstance(url, str) or not url.startswith("mxc://"):
        return None
    info = content.get("info")
    size = info.get("size") if isinstance(info, Mapping) else None
    name = content.get("filename") or content.get("body")
    return FileMessage(
        name=name if isinstance(name, str) else "",
        size=size if isinstance(size, int) and not isinstance(size, bool) else None,
        url=url,
        encryption=encrypted if isinstance(encrypted, Mapping) else None,
    )


def replied_event(content: Mapping[str, Any]) -> str | None:
    """The id of the event a message replies to, if it is a reply."""
    relates = content.get("m.relates_to")
    if not isinstance(relates, Mapping):
        return None
    in_reply = relates.get("m.in_reply_to")
    event_id = in_reply.get("event_id") if isinstance(in_reply, Mapping) else None
    return event_id if isinstance(event_id, str) else None


class RoomFiles:
    """Finds and downloads the files messages reply to."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._recent: OrderedDict[tuple[str, str], FileMessage] = OrderedDict()

    def seen(self, room_id: str, event_id: str, content: Mapping[str, Any]) -> None:
        """Remember a file message the sync delivered (already decrypted)."""
        found = file_message(content)
        if found is None:
            return
        self._recent[(room_id, event_id)] = found
        while len(self._recent) > REMEMBERED_FILES:
            self._recent.popitem(last=False)

    async def file_of(self, room_id: str, event_id: str) -> FileMessage | None:
        """The file of an event, remembered or fetched by id; None if it is not a file."""
        known = self._recent.get((room_id, event_id))
        if known is not None:
            return known
        resp = await self._client.room_get_event(room_id, event_id)
        if isinstance(resp, RoomGetEventError):
            log.info("could not fetch event %s in %s: %s", event_id, room_id, resp.message)
            return None
        event: Any = resp.event
        if isinstance(event, MegolmEvent):
            try:
                event = self._client.decrypt_event(event)
            except EncryptionError:
                return None
        source = getattr(event, "source", None)
        if not isinstance(source, Mapping) or source.get("type") != "m.room.message":
            return None
        content = source.get("content")
        return file_message(content) if isinstance(content, Mapping) else None

    async def download(self, found: FileMessage) -> bytes:
        """The file's bytes, decrypted when the room is encrypted; raises UploadUnavailable."""
        resp = await self._client.download(mxc=found.url)
        if isinstance(resp, DownloadError):
            raise UploadUnavailable(f"the homeserver answered {resp.status_code or resp.message}")
        body = resp.body
        if not isinstance(body, bytes):
            raise UploadUnavailable("the homeserver sent no file")
        if found.encryption is None:
            return body
        try:
            key = found.encryption["key"]["k"]
            digest = found.encryption["hashes"]["sha256"]
            iv = found.encryption["iv"]
            return bytes(decrypt_attachment(body, key, digest, iv))
        except (KeyError, TypeError, EncryptionError, ValueError):
            raise UploadUnavailable("the file could not be decrypted") from None

    async def upload_of(self, room_id: str, event_id: str, max_bytes: int) -> Upload:
        """The file `event_id` holds, as the core takes it: not downloaded when the event
        declares it larger than `max_bytes` (the core refuses it by that size)."""
        found = await self.file_of(room_id, event_id)
        if found is None:
            raise UploadUnavailable("the message replied to is not a file")
        if found.size is not None and found.size > max_bytes:
            return Upload(b"", found.name, declared_size=found.size)
        return Upload(await self.download(found), found.name)
