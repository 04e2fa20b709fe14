"""Running a request for an interaction or a mention, and delivering the core's reply.

Every command of every cog comes through here: the core decides what the reply says, whether
it is private and whether it opens a thread; this module only speaks Discord (defer,
ephemeral flags, message replies, buttons, threads).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord

from bot.core.places import Caller, Where
from bot.core.replies import AnswerReply, Refusal
from bot.core.requests import Mention, Request
from bot.discord_bot.context import (
    NO_PINGS,
    Interaction,
    caller_of,
    caller_of_message,
    where_of,
    where_of_message,
)
from bot.discord_bot.render import THREAD_NAME_LIMIT, clip, render, render_answer
from bot.discord_bot.sending import defer, rate_limited, send, send_notice
from bot.discord_bot.views import AnswerButtons

if TYPE_CHECKING:
    from bot.discord_bot.client import SamizdatBot

log = logging.getLogger(__name__)


async def respond(bot: SamizdatBot, interaction: Interaction, request: Request) -> None:
    """Answer an interaction: the core acknowledges slow work, with the reply's visibility,
    before it starts, because the deferral decides who sees the reply that fills it."""
    where = where_of(interaction)

    async def acknowledge(private: bool) -> None:
        await defer(interaction, ephemeral=private)

    reply = await bot.core.handle(request, caller_of(interaction), where, acknowledge)
    if reply is None:  # pragma: no cover - a command always gets a reply
        return
    if isinstance(reply, Refusal):
        await send_notice(interaction, reply.message)
        return
    if not isinstance(reply, AnswerReply):
        await send(interaction, render(reply), ephemeral=reply.private)
        return
    view = await answer_buttons(
        bot, reply, caller_of(interaction), where, token_life=bot.reply_editable_seconds
    )
    message = await send(interaction, [render_answer(reply)], ephemeral=reply.private, view=view)
    if view is not None:
        view.message = message
    if message is not None and reply.in_thread:
        await _open_thread(interaction.channel, message.id, reply)


async def respond_to_mention(bot: SamizdatBot, message: discord.Message, text: str) -> None:
    """Answer a message that mentions the bot, in reply to it, or stay silent."""
    where = where_of_message(message)
    caller = caller_of_message(message)
    reply = await bot.core.handle(Mention(text), caller, where)
    if reply is None:
        return
    if not isinstance(reply, AnswerReply):
        text_of = reply.message if isinstance(reply, Refusal) else None
        if text_of is not None:
            await reply_text(message, text_of)
        else:  # pragma: no cover - a mention is a question
            log.warning("a mention got a %s", type(reply).__name__)
        return
    view = await answer_buttons(bot, reply, caller, where)
    outgoing = render_answer(reply)
    sent = await rate_limited(
        lambda: message.reply(
            **outgoing.kwargs(),
            view=view or discord.ui.View(),  # an empty view sends no buttons
            mention_author=False,
            allowed_mentions=NO_PINGS,
        )
    )
    if view is not None:
        view.message = sent
    if reply.in_thread:
        await _open_thread(message.channel, sent.id, reply)


async def answer_buttons(
    bot: SamizdatBot,
    reply: AnswerReply,
    caller: Caller,
    where: Where,
    *,
    token_life: float | None = None,
) -> AnswerButtons | None:
    """The buttons under an answer, naming it as the core kept it; None if it could not be
    kept (the answer then goes without buttons that could not work).

    `token_life` is how long the message stays editable (an interaction's reply is edited
    with its token; a reply to a mention is the bot's own message, editable for good): the
    buttons are greyed out before then. Clicks reach the registered buttons, not this view,
    so they never stretch its life.
    """
    answer_id = await bot.core.followups.keep(reply, caller, where)
    if answer_id is None:
        return None
    timeout = bot.config.discord.view_timeout_seconds
    return AnswerButtons(
        answer_id,
        has_passages=bool(reply.answer.passages),
        timeout=timeout if token_life is None else min(timeout, token_life),
    )


async def reply_text(message: discord.Message, text: str) -> None:
    await rate_limited(
        lambda: message.reply(clip(text, 2000), mention_author=False, allowed_mentions=NO_PINGS)
    )


async def _open_thread(channel: object, message_id: int, reply: AnswerReply) -> None:
    """Start a thread on the answer, named after the question, for the discussion."""
    if not isinstance(channel, discord.TextChannel):
        return  # threads in threads, forums or DMs do not exist
    name = clip(" ".join(reply.answer.question.split()), THREAD_NAME_LIMIT) or "Question"
    try:
        await channel.create_thread(name=name, message=discord.Object(message_id))
    except discord.HTTPException:
        log.warning("could not open a thread for an answer in channel %s", channel.id)
