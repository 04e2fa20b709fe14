"""The buttons under an answer: page through its passages, and say whether it helped.

Views live in memory only; when they time out their buttons are disabled on the message,
so nobody clicks a button that no longer answers. Buttons the bot no longer knows (on a
message sent before a restart, or clicked as the view timed out) would make Discord say
"This interaction failed"; `LiveViews` tells them apart so the click gets `EXPIRED_BUTTON`
instead.
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import Sequence
from typing import Any

import discord

from bot.answers.model import RetrievedPassage
from bot.core.commands import Core
from bot.core.places import Where
from bot.core.present import APOLOGY, NOT_YOUR_PASSAGES
from bot.core.replies import AnswerReply, Confirmation, Refusal
from bot.core.requests import Feedback
from bot.discord_bot.context import NO_PINGS, Interaction, caller_of
from bot.discord_bot.render import render_passage_page
from bot.discord_bot.sending import acknowledged_too_late, defer, send_notice
from bot.discord_bot.shutdown import InFlight

log = logging.getLogger(__name__)


class LiveViews:
    """The buttons that still answer, by custom_id; anything else is a button that expired.

    Views are held weakly: discord.py keeps a view while it listens, and a view that timed
    out or stopped counts as gone even before it is collected.
    """

    def __init__(self) -> None:
        self._by_custom_id: weakref.WeakValueDictionary[str, discord.ui.View] = (
            weakref.WeakValueDictionary()
        )

    def add(self, view: discord.ui.View) -> None:
        for item in view.children:
            if isinstance(item, discord.ui.Button) and item.custom_id:
                self._by_custom_id[item.custom_id] = view

    def answers(self, custom_id: str) -> bool:
        view = self._by_custom_id.get(custom_id)
        return view is not None and not view.is_finished()


class _View(discord.ui.View):
    """A view that disables itself on timeout and never fails silently."""

    def __init__(self, *, timeout: float, live: LiveViews) -> None:
        super().__init__(timeout=timeout)
        self.message: discord.Message | None = None
        self.interaction: Interaction | None = None
        self.live = live
        live.add(self)

    def disable_all(self) -> None:
        for item in self.children:
            if isinstance(item, discord.ui.Button):
                item.disabled = True

    async def interaction_check(self, interaction: Interaction, /) -> bool:
        # Runs in the task that will run the button: a shutdown lets that task finish.
        in_flight = getattr(interaction.client, "in_flight", None)
        if isinstance(in_flight, InFlight):
            in_flight.add_current()
        return True

    async def on_timeout(self) -> None:
        self.disable_all()
        with contextlib.suppress(discord.HTTPException):
            if self.message is not None:
                await self.message.edit(view=self, allowed_mentions=NO_PINGS)
            elif self.interaction is not None:
                await self.interaction.edit_original_response(view=self, allowed_mentions=NO_PINGS)

    async def on_error(
        self, interaction: Interaction, error: Exception, item: discord.ui.Item[Any]
    ) -> None:
        if acknowledged_too_late(interaction, error):
            return
        log.error("button %r failed", item, exc_info=error)
        with contextlib.suppress(discord.HTTPException):
            await send_notice(interaction, APOLOGY)


class AnswerView(_View):
    """Buttons under one answer, for the person who asked and, for feedback, anyone."""

    def __init__(
        self,
        core: Core,
        reply: AnswerReply,
        *,
        asker_id: int,
        where: Where,
        timeout: float,
        live: LiveViews,
    ) -> None:
        super().__init__(timeout=timeout, live=live)
        self.core = core
        self.reply = reply
        self.asker_id = asker_id
        self.where = where
        if not reply.answer.passages:
            self.remove_item(self.show_passages)

    @discord.ui.button(label="Show passages", emoji="📜", style=discord.ButtonStyle.secondary)
    async def show_passages(
        self, interaction: Interaction, button: discord.ui.Button[AnswerView]
    ) -> None:
        if interaction.user.id != self.asker_id:
            await send_notice(interaction, NOT_YOUR_PASSAGES)
            return
        pager = PassagePager(
            self.reply.answer.passages, timeout=self.timeout or 600, live=self.live
        )
        pager.interaction = interaction
        await interaction.response.send_message(
            embed=pager.page(), view=pager, ephemeral=True, allowed_mentions=NO_PINGS
        )

    @discord.ui.button(label="Helpful", emoji="👍", style=discord.ButtonStyle.secondary)
    async def helpful(
        self, interaction: Interaction, button: discord.ui.Button[AnswerView]
    ) -> None:
        await self._feedback(interaction, helpful=True)

    @discord.ui.button(label="Not helpful", emoji="👎", style=discord.ButtonStyle.secondary)
    async def unhelpful(
        self, interaction: Interaction, button: discord.ui.Button[AnswerView]
    ) -> None:
        await self._feedback(interaction, helpful=False)

    async def _feedback(self, interaction: Interaction, *, helpful: bool) -> None:
        answer = self.reply.answer
        cited = [c.passage_id for c in answer.citations] or [p.passage_id for p in answer.passages]
        request = Feedback(answer.question, tuple(dict.fromkeys(cited)), helpful)

        async def acknowledge(private: bool) -> None:
            await defer(interaction, ephemeral=private)

        reply = await self.core.handle(request, caller_of(interaction), self.where, acknowledge)
        if isinstance(reply, Confirmation | Refusal):
            await send_notice(interaction, reply.message)


class PassagePager(_View):
    """One retrieved passage a page, in rank order, in a message only the asker sees."""

    def __init__(
        self, passages: Sequence[RetrievedPassage], *, timeout: float, live: LiveViews
    ) -> None:
        super().__init__(timeout=timeout, live=live)
        self.passages = list(passages)
        self.index = 0
        self._update_buttons()

    def page(self) -> discord.Embed:
        return render_passage_page(self.passages[self.index], self.index, len(self.passages))

    def _update_buttons(self) -> None:
        self.previous.disabled = self.index == 0
        self.next.disabled = self.index >= len(self.passages) - 1

    async def _turn(self, interaction: Interaction, step: int) -> None:
        self.index = max(0, min(len(self.passages) - 1, self.index + step))
        self._update_buttons()
        await interaction.response.edit_message(
            embed=self.page(), view=self, allowed_mentions=NO_PINGS
        )

    @discord.ui.button(label="Previous", emoji="◀️", style=discord.ButtonStyle.secondary)
    async def previous(
        self, interaction: Interaction, button: discord.ui.Button[PassagePager]
    ) -> None:
        await self._turn(interaction, -1)

    @discord.ui.button(label="Next", emoji="▶️", style=discord.ButtonStyle.primary)
    async def next(self, interaction: Interaction, button: discord.ui.Button[PassagePager]) -> None:
        await self._turn(interaction, 1)
