"""The buttons under an answer: page through its passages, and say whether it helped.

Every button names what it acts on in its `custom_id` (`samizdat:passages:<answer>`,
`samizdat:helpful:<answer>:<1|0>`, `samizdat:page:<answer>:<page>:<prev|next>`), and the
answer is kept by the core (`Core.followups`), so a click works on whichever process of a
fleet receives it and after a restart: the buttons are discord.py `DynamicItem`s, registered
once for the client (`BUTTONS`), not views held in one process's memory. A button whose
answer is gone (older than `discord.view_timeout_seconds`, or forgotten) says so. The
process that sent an answer still greys its buttons out when that time is up.
"""

from __future__ import annotations

import contextlib
import logging
import re
from typing import Any

import discord

from bot.core.followups import RecalledAnswer
from bot.core.present import APOLOGY, EXPIRED_BUTTON, NOT_YOUR_PASSAGES
from bot.core.replies import Confirmation, Refusal
from bot.core.requests import Feedback
from bot.discord_bot.context import NO_PINGS, Interaction, caller_of, where_of
from bot.discord_bot.render import render_passage_page
from bot.discord_bot.sending import acknowledged_too_late, defer, rate_limited, send_notice
from bot.discord_bot.shutdown import InFlight

log = logging.getLogger(__name__)

# Every custom_id of ours starts so; anything else on a component is a button from before.
PREFIX = "samizdat:"
_ANSWER = r"(?P<answer>[0-9]{1,18})"

Button = discord.ui.Button[discord.ui.View]
# Discord lets a bot edit the reply to an interaction with that interaction's token for 15
# minutes; buttons greyed out through the token must be so before then, with a margin.
REPLY_EDITABLE_SECONDS = 15 * 60 - 30
_STYLE = {"prev": discord.ButtonStyle.secondary, "next": discord.ButtonStyle.primary}


def is_ours(custom_id: str) -> bool:
    return custom_id.startswith(PREFIX)


def _core(interaction: Interaction) -> Any:
    """The core of the bot that received the click (typed loosely: the client is ours)."""
    return getattr(interaction.client, "core", None)


async def _recall(interaction: Interaction, answer_id: int) -> RecalledAnswer | None:
    """The clicked answer, or None after telling the person the button has expired."""
    core = _core(interaction)
    recalled = None if core is None else await core.followups.recall(answer_id)
    if recalled is None:
        await send_notice(interaction, EXPIRED_BUTTON)
    return recalled


class _Guarded:
    """What every button of ours does around its work: count it as in flight for a clean
    shutdown, and turn a failure into a logged error and an apology, never silence."""

    label: str

    async def interaction_check(self, interaction: Interaction, /) -> bool:
        in_flight = getattr(interaction.client, "in_flight", None)
        if isinstance(in_flight, InFlight):
            in_flight.add_current()
        return True

    async def callback(self, interaction: Interaction) -> None:
        try:
            await self.run(interaction)
        except Exception as error:
            if acknowledged_too_late(interaction, error):
                return
            log.error("button %r failed", self.label, exc_info=error)
            with contextlib.suppress(discord.HTTPException):
                await send_notice(interaction, APOLOGY)

    async def run(self, interaction: Interaction) -> None:
        raise NotImplementedError


class ShowPassages(
    _Guarded, discord.ui.DynamicItem[Button], template=rf"{PREFIX}passages:{_ANSWER}"
):
    """Open the pager over the answer's passages, for the person who asked."""

    def __init__(self, answer_id: int) -> None:
        self.answer_id = answer_id
        self.label = "Show passages"
        super().__init__(
            discord.ui.Button(
                label=self.label,
                emoji="📜",
                style=discord.ButtonStyle.secondary,
                custom_id=f"{PREFIX}passages:{answer_id}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ShowPassages:
        return cls(int(match["answer"]))

    async def run(self, interaction: Interaction) -> None:
        recalled = await _recall(interaction, self.answer_id)
        if recalled is None:
            return
        if caller_of(interaction).user_id != recalled.kept.user_id:
            await send_notice(interaction, NOT_YOUR_PASSAGES)
            return
        if not recalled.passages:
            await send_notice(interaction, EXPIRED_BUTTON)
            return
        timeout = _timeout(interaction)
        pager = PagerButtons(self.answer_id, 0, len(recalled.passages), timeout=timeout)
        await rate_limited(
            lambda: interaction.response.send_message(
                embed=render_passage_page(recalled.passages[0], 0, len(recalled.passages)),
                view=pager,
                ephemeral=True,
                allowed_mentions=NO_PINGS,
            )
        )
        pager.interaction = interaction


class Vote(
    _Guarded,
    discord.ui.DynamicItem[Button],
    template=rf"{PREFIX}helpful:{_ANSWER}:(?P<helpful>[01])",
):
    """Record whether the answer helped; anyone may vote."""

    def __init__(self, answer_id: int, helpful: bool) -> None:
        self.answer_id = answer_id
        self.helpful = helpful
        self.label = "Helpful" if helpful else "Not helpful"
        super().__init__(
            discord.ui.Button(
                label=self.label,
                emoji="👍" if helpful else "👎",
                style=discord.ButtonStyle.secondary,
                custom_id=f"{PREFIX}helpful:{answer_id}:{int(helpful)}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Vote:
        return cls(int(match["answer"]), match["helpful"] == "1")

    async def run(self, interaction: Interaction) -> None:
        recalled = await _recall(interaction, self.answer_id)
        if recalled is None:
            return
        kept = recalled.kept
        cited = kept.cited or tuple(passage_id for passage_id, _ in kept.passages)
        request = Feedback(kept.question, cited, self.helpful)

        async def acknowledge(private: bool) -> None:
            await defer(interaction, ephemeral=private)

        core = _core(interaction)
        reply = await core.handle(
            request, caller_of(interaction), where_of(interaction), acknowledge
        )
        if isinstance(reply, Confirmation | Refusal):
            await send_notice(interaction, reply.message)


class TurnPage(
    _Guarded,
    discord.ui.DynamicItem[Button],
    template=rf"{PREFIX}page:{_ANSWER}:(?P<page>[0-9]{{1,3}}):(?P<way>prev|next)",
):
    """Show the page this button names, in the asker's own pager message."""

    def __init__(self, answer_id: int, page: int, way: str, *, disabled: bool = False) -> None:
        self.answer_id = answer_id
        self.page = page
        self.label = "Previous" if way == "prev" else "Next"
        super().__init__(
            discord.ui.Button(
                label=self.label,
                emoji="◀️" if way == "prev" else "▶️",
                style=discord.ButtonStyle.secondary
                if way == "prev"
                else discord.ButtonStyle.primary,
                custom_id=f"{PREFIX}page:{answer_id}:{max(page, 0)}:{way}",
                disabled=disabled,
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> TurnPage:
        return cls(int(match["answer"]), int(match["page"]), match["way"])

    async def run(self, interaction: Interaction) -> None:
        recalled = await _recall(interaction, self.answer_id)
        if recalled is None:
            return
        total = len(recalled.passages)
        if total == 0:
            await send_notice(interaction, EXPIRED_BUTTON)
            return
        page = max(0, min(total - 1, self.page))
        pager = PagerButtons(self.answer_id, page, total, timeout=_timeout(interaction))
        await rate_limited(
            lambda: interaction.response.edit_message(
                embed=render_passage_page(recalled.passages[page], page, total),
                view=pager,
                allowed_mentions=NO_PINGS,
            )
        )
        pager.interaction = interaction


# Registered with the client (`add_dynamic_items`), so clicks reach them from any message.
BUTTONS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (ShowPassages, Vote, TurnPage)


def _timeout(interaction: Interaction) -> float:
    """A pager's life: the configured idle time, but never past the clicking interaction's
    token, through which the pager is edited (and greyed out)."""
    client = interaction.client
    config = getattr(client, "config", None)
    idle = float(getattr(getattr(config, "discord", None), "view_timeout_seconds", 600))
    return min(idle, float(getattr(client, "reply_editable_seconds", REPLY_EDITABLE_SECONDS)))


class _Buttons(discord.ui.View):
    """Buttons on one message, greyed out by the process that sent them when time is up.

    Made of dynamic items only, so discord.py routes clicks to `BUTTONS`, never to this
    object: the greying out is the one thing it does, and a restart merely skips it.
    """

    def __init__(self, *, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.message: discord.Message | None = None
        self.interaction: Interaction | None = None

    def disable_all(self) -> None:
        for item in self.children:
            if isinstance(item, discord.ui.DynamicItem):
                item.item.disabled = True

    async def on_timeout(self) -> None:
        self.disable_all()
        with contextlib.suppress(discord.HTTPException):
            if self.message is not None:
                await self.message.edit(view=self, allowed_mentions=NO_PINGS)
            elif self.interaction is not None:
                await self.interaction.edit_original_response(view=self, allowed_mentions=NO_PINGS)


class AnswerButtons(_Buttons):
    """Under an answer: its passages for the asker (if it has any), feedback for everyone."""

    def __init__(self, answer_id: int, *, has_passages: bool, timeout: float) -> None:
        super().__init__(timeout=timeout)
        if has_passages:
            self.add_item(ShowPassages(answer_id))
        self.add_item(Vote(answer_id, True))
        self.add_item(Vote(answer_id, False))


class PagerButtons(_Buttons):
    """Previous and next, each naming the page it shows."""

    def __init__(self, answer_id: int, page: int, total: int, *, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.add_item(TurnPage(answer_id, page - 1, "prev", disabled=page <= 0))
        self.add_item(TurnPage(answer_id, page + 1, "next", disabled=page >= total - 1))
