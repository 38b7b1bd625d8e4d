"""The stand-in itself, driven by small discord.py clients defined here (not the project's bot).

The deliberate breaks at the end are the proof that the end-to-end suite fails when the bot
breaks one of Discord's limits or lets a mention ping: each misbehaving client is caught.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands

from . import Discord, connected, limits, pointed_at
from .conftest import intents
from .inprocess import InProcess

FRUIT = [f"fruit {i:02d}" for i in range(60)]
Behaviour = Callable[[discord.Message], Awaitable[Any]]


class NoteModal(discord.ui.Modal, title="Add a note"):
    text: discord.ui.TextInput[NoteModal] = discord.ui.TextInput(label="Note", custom_id="note-text")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"noted: {self.text.value}")


class Menu(discord.ui.View):
    @discord.ui.button(label="Again", custom_id="menu-again")
    async def again(self, interaction: discord.Interaction, button: discord.ui.Button[Menu]) -> None:
        await interaction.response.send_message("clicked")


class EchoBot(discord.AutoShardedClient):
    """A tiny well-behaved bot: every send allows no mention, as the real one must."""

    def __init__(self, *, allowed_mentions: discord.AllowedMentions | None = None, **options: Any) -> None:
        super().__init__(intents=options.pop("intents", intents()), allowed_mentions=allowed_mentions, **options)
        self.tree = app_commands.CommandTree(self)
        self.on_message_behaviour: Behaviour = lambda m: m.reply(f"got {m.content}")
        self.choices = lambda typed: [app_commands.Choice(name=f, value=f) for f in FRUIT if typed in f][:25]
        self._commands()

    def _commands(self) -> None:
        @self.tree.command(description="Say it back")
        async def echo(interaction: discord.Interaction, text: str) -> None:
            await interaction.response.send_message(text)

        @self.tree.command(description="Say it back after thinking")
        async def later(interaction: discord.Interaction, text: str) -> None:
            await interaction.response.defer(thinking=True)
            await interaction.edit_original_response(content=f"thought: {text}")
            await interaction.followup.send(f"and also: {text}")

        @self.tree.command(description="Pick a fruit")
        async def pick(interaction: discord.Interaction, fruit: str) -> None:
            await interaction.response.send_message(f"picked {fruit}", ephemeral=True)

        @pick.autocomplete("fruit")
        async def pick_fruit(interaction: discord.Interaction, typed: str) -> list[app_commands.Choice[str]]:
            return self.choices(typed)

        @self.tree.command(description="Write a note")
        async def note(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(NoteModal())

        @self.tree.command(description="Show a menu")
        async def menu(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("menu", view=Menu())

        group = app_commands.Group(name="kb", description="Knowledge")

        @group.command(description="Show an entry")
        async def show(interaction: discord.Interaction, entry: str, verbose: bool = False) -> None:
            await interaction.response.send_message(f"entry {entry} verbose={verbose}")

        self.tree.add_command(group)

    async def on_message(self, message: discord.Message) -> None:
        if message.author != self.user:
            await self.on_message_behaviour(message)


async def no_wait(shard_id: int | None, *, initial: bool = False) -> None:
    """A before_identify_hook without the default 5 s pause (one client, nothing to space out)."""


def polite() -> EchoBot:
    return EchoBot(allowed_mentions=discord.AllowedMentions.none())


# -- connecting and talking ----------------------------------------------------------------------


async def test_ready_brings_the_guild_and_a_mention_is_answered(standin: Discord) -> None:
    async with connected(standin, polite()) as bot:
        event = await standin.member_says("hello", mentions_bot=True, channel=standin.world.chatter)
        reply = await event.reply()
        guild = bot.get_guild(standin.world.guild_id)
    assert guild is not None and {c.name for c in guild.text_channels} == set(standin.world.channels.values())
    assert reply.content == f"got <@{standin.world.bot.id}> hello"
    assert reply.body["message_reference"]["message_id"] == event.id
    assert reply.body["allowed_mentions"] == {"parse": []}
    assert [r.line for r in standin.requests[:2]] == ["GET /users/@me", "GET /oauth2/applications/@me"]
    standin.assert_clean()


async def test_a_dm_is_answered_in_the_dm_channel(standin: Discord) -> None:
    async with connected(standin, polite()):
        reply = await (await standin.dm("psst")).reply()
    assert reply.content == "got psst"
    assert reply.message is not None and int(reply.message["channel_id"]) == standin.world.dm_channel(
        standin.world.member.id
    )


async def test_without_the_message_content_intent_only_mentions_carry_text(standin: Discord) -> None:
    async with connected(standin, EchoBot(intents=discord.Intents.default())):
        plain = await (await standin.member_says("plain words")).reply()
        mention = await (await standin.member_says("hi", mentions_bot=True)).reply()
    assert plain.content == "got "
    assert mention.content.endswith("hi")


async def test_heartbeats_are_acknowledged() -> None:
    async with Discord(heartbeat_interval=0.05) as standin, connected(standin, polite()) as bot:
        await standin.gateway.signal.until(lambda: standin.gateway.heartbeats >= 4, 3.0, "four heartbeats")
        assert bot.latency < 1.0  # finite: every beat got its op 11 ack


async def test_a_bad_token_is_refused_by_rest_and_gateway(standin: Discord) -> None:
    with pointed_at(standin.url, standin.gateway_url), pytest.raises(discord.LoginFailure):
        await EchoBot().login("not-the-token")
    async with aiohttp.ClientSession() as session, session.ws_connect(standin.gateway_url) as ws:
        hello = await ws.receive_json(timeout=2)
        await ws.send_json({"op": 2, "d": {"token": "not-the-token", "intents": 513, "properties": {}}})
        closing = await ws.receive(timeout=2)
    assert hello["op"] == 10 and closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 4004


async def test_a_disallowed_privileged_intent_closes_with_4014() -> None:
    async with Discord(allowed_intents=0) as standin:
        with pytest.raises(discord.PrivilegedIntentsRequired):
            async with connected(standin, polite()):
                pass
    assert standin.gateway.close_codes == [4014]


# -- application commands ------------------------------------------------------------------------


async def test_sync_then_slash_command_round_trip(standin: Discord) -> None:
    async with connected(standin, polite()) as bot:
        synced = await bot.tree.sync()
        event = await standin.slash("echo", text="hi there")
        reply = await event.reply()
    assert {c.name for c in synced} == {"echo", "later", "pick", "note", "menu", "kb"}
    assert reply.kind == "response" and reply.content == "hi there"
    assert event.response_time is not None and event.response_time < 3.0
    standin.assert_clean()


async def test_subcommand_options_follow_the_synced_schema(standin: Discord) -> None:
    async with connected(standin, polite()) as bot:
        await bot.tree.sync()
        reply = await (await standin.slash("kb show", entry="jivani", verbose=True)).reply()
        with pytest.raises(AssertionError, match="no option"):
            await standin.slash("kb show", entry="x", colour="red")
    assert reply.content == "entry jivani verbose=True"


async def test_deferred_answer_arrives_as_an_edit_then_a_followup(standin: Discord) -> None:
    async with connected(standin, polite()):
        event = await standin.slash("later", text="x")
        await event.reply()
        await standin.signal.until(lambda: len(event.replies) == 3, 5.0, "defer, edit and followup")
    assert [r.kind for r in event.replies] == ["defer", "edit", "followup"]
    assert [r.content for r in event.visible()] == ["thought: x", "and also: x"]


async def test_autocomplete_returns_the_bots_choices(standin: Discord) -> None:
    async with connected(standin, polite()) as bot:
        await bot.tree.sync()
        choices = await standin.autocomplete("pick", "fruit", "fruit 1")
        picked = await (await standin.slash("pick", fruit=choices[0]["value"])).reply()
    assert [c["name"] for c in choices] == [f"fruit {i}" for i in range(10, 20)]
    assert picked.ephemeral and picked.content == "picked fruit 10"


async def test_modal_is_shown_and_submitted(standin: Discord) -> None:
    async with connected(standin, polite()):
        modal = await (await standin.slash("note", user=standin.world.moderator)).reply()
        reply = await (await standin.submit_modal(modal, {"Note": "remember"}, user=standin.world.moderator)).reply()
    assert modal.kind == "modal" and modal.body["title"] == "Add a note"
    assert reply.content == "noted: remember"


async def test_a_button_click_reaches_the_view(standin: Discord) -> None:
    async with connected(standin, polite()):
        menu = await (await standin.slash("menu")).reply()
        reply = await (await standin.click(menu, "menu-again")).reply()
    assert reply.content == "clicked"


# -- faults --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["abort", "close-4000", "reconnect-op7"])
async def test_the_client_resumes_and_gets_what_it_missed(standin: Discord, fault: str) -> None:
    async with connected(standin, polite()):
        if fault == "abort":
            await standin.gateway.drop()
        elif fault == "close-4000":
            await standin.gateway.drop(4000)
        else:
            await standin.gateway.send_op(7)
        session = standin.gateway.live_sessions()[0]
        message = standin._store_message(standin.world.answers, {"content": "missed"}, standin.world.member)
        await session.send("MESSAGE_CREATE", message)  # while the connection is down: logged for the RESUME
        await standin.wait_connected(5.0, resumes=1)
        replayed = await standin.wait_for_request(lambda r: r.body and r.body.get("content") == "got missed")
        reply = await (await standin.member_says("after")).reply()
    assert standin.gateway.identifies == 1 and replayed.status == 200
    assert reply.content == "got after"


async def test_an_invalid_session_makes_the_client_identify_again(standin: Discord) -> None:
    bot = polite()
    bot.before_identify_hook = no_wait  # type: ignore[method-assign]  # the default waits 5 s before re-identifying
    async with connected(standin, bot):
        await standin.gateway.send_op(9, False)
        await standin.gateway.signal.until(lambda: standin.gateway.identifies == 2, 10.0, "a second IDENTIFY")
        reply = await (await standin.member_says("again")).reply()
    assert reply.content == "got again"


@pytest.mark.parametrize("status", [429, 500])
async def test_a_failed_send_is_retried(standin: Discord, status: int) -> None:
    fault = standin.inject("POST /channels/*/messages", status=status, retry_after=0.2)
    async with connected(standin, polite()):
        reply = await (await standin.member_says("retry me")).reply(timeout=5.0)
    sends = [r.status for r in standin.requests if r.line.startswith("POST /channels/")]
    assert fault.hits == 1 and sends == [status, 200] and reply.content == "got retry me"


async def test_a_slow_rest_answer_delays_but_delivers(standin: Discord) -> None:
    standin.inject("POST /channels/*/messages", delay=0.5)
    async with connected(standin, polite()):
        event = await standin.member_says("slowly")
        reply = await event.reply()
    assert reply.at - event.at >= 0.5


# -- deliberate breaks: what the end-to-end suite relies on to fail ------------------------------


def _long(m: discord.Message) -> Awaitable[Any]:
    return m.channel.send("x" * (limits.CONTENT + 1), allowed_mentions=discord.AllowedMentions.none())


def _everyone(m: discord.Message) -> Awaitable[Any]:
    return m.channel.send("hey @everyone")  # no allowed_mentions: Discord would ping everyone


def _reply_ping(m: discord.Message) -> Awaitable[Any]:
    return m.reply("answer", allowed_mentions=discord.AllowedMentions(everyone=False, users=False, roles=False))


def _fat_embed(m: discord.Message) -> Awaitable[Any]:
    embed = discord.Embed(title="t")
    for i in range(limits.EMBED_FIELDS + 1):
        embed.add_field(name=f"f{i}", value="v")
    return m.channel.send(embed=embed, allowed_mentions=discord.AllowedMentions.none())


def _huge_embed(m: discord.Message) -> Awaitable[Any]:
    embeds = [discord.Embed(description="d" * 4000) for _ in range(2)]
    return m.channel.send(embeds=embeds, allowed_mentions=discord.AllowedMentions.none())


@pytest.mark.parametrize(
    ("behaviour", "kind", "rejected"),
    [
        (_long, "limit", True),
        (_fat_embed, "limit", True),
        (_huge_embed, "limit", True),
        (_everyone, "mention", False),
        (_reply_ping, "mention", False),
    ],
    ids=["content-over-2000", "26-embed-fields", "embeds-over-6000", "everyone-allowed", "reply-pings-author"],
)
async def test_a_misbehaving_message_is_caught(
    standin: Discord, behaviour: Behaviour, kind: str, rejected: bool
) -> None:
    failures: list[BaseException] = []
    bot = EchoBot()

    async def misbehave(message: discord.Message) -> None:
        try:
            await behaviour(message)
        except discord.HTTPException as exc:
            failures.append(exc)

    bot.on_message_behaviour = misbehave
    async with connected(standin, bot):
        await standin.member_says("trigger")
        await standin.signal.until(lambda: standin.violations, 5.0, "a violation")
    assert [v.kind for v in standin.violations] == [kind]
    assert bool(failures) == rejected  # a breached limit answers 400 like Discord; a ping is only recorded
    with pytest.raises(AssertionError, match="broke Discord's rules"):
        standin.assert_clean()


@pytest.mark.parametrize(
    ("choices", "problem"),
    [(26, "fewer in length"), (1, "between 1 and 100")],
    ids=["26-choices", "choice-name-over-100"],
)
async def test_a_misbehaving_autocomplete_is_caught(standin: Discord, choices: int, problem: str) -> None:
    bot = polite()
    name = "n" * (limits.CHOICE_TEXT + 1) if choices == 1 else "n"
    bot.choices = lambda typed: [app_commands.Choice(name=f"{name}{i}", value=str(i)) for i in range(choices)]
    async with connected(standin, bot):
        await standin.types_into("pick", "fruit", "f")
        await standin.signal.until(lambda: standin.violations, 5.0, "a violation")
    assert standin.violations[0].kind == "limit" and problem in standin.violations[0].detail


async def test_an_interaction_answered_late_or_twice_is_caught() -> None:
    async with Discord(response_deadline=0.2) as standin:
        bot = polite()

        @bot.tree.command(description="Too slow")
        async def slow(interaction: discord.Interaction) -> None:
            await asyncio.sleep(0.3)
            with pytest.raises(discord.NotFound):
                await interaction.response.send_message("late")

        async with connected(standin, bot):
            await standin.slash("slow")
            await standin.signal.until(lambda: standin.violations, 3.0, "a violation")
    assert standin.violations[0].kind == "late"


# -- the limit checks as plain functions --------------------------------------------------------


def test_error_body_nests_like_discord() -> None:
    body = limits.error_body([limits.Problem("embeds.0.title", "too long")])
    assert body["errors"] == {
        "embeds": {"0": {"title": {"_errors": [{"code": "BASE_TYPE_BAD_LENGTH", "message": "too long"}]}}}
    }
    assert json.loads(json.dumps(body)) == body


@pytest.mark.parametrize(
    ("payload", "pings"),
    [
        ({"content": "hi"}, ["everyone", "users", "roles"]),
        ({"content": "hi", "allowed_mentions": {"parse": []}}, []),
        ({"content": "hi", "allowed_mentions": {"parse": [], "users": [1]}}, ["user:1"]),
        ({"content": "", "embeds": [{"title": "@everyone"}]}, []),
        (
            {
                "content": "a",
                "message_reference": {"message_id": 1},
                "allowed_mentions": {"parse": [], "replied_user": True},
            },
            ["replied_user"],
        ),
    ],
)
def test_allowed_pings(payload: dict[str, Any], pings: list[str]) -> None:
    assert limits.allowed_pings(payload) == pings


async def test_in_process_it_answers_discord_py_with_the_same_handlers_and_no_socket(monkeypatch: pytest.MonkeyPatch):
    standin = InProcess(token="in-process")
    standin.install(monkeypatch)
    client = discord.Client(intents=intents(), allowed_mentions=discord.AllowedMentions.none())
    with pytest.raises(discord.LoginFailure):
        await client.login("someone-else")  # 401 from the stand-in's own auth check
    await client.login("in-process")
    assert client.user is not None and client.user.id == standin.world.bot.id
    channel = client.get_partial_messageable(standin.world.answers)
    sent = await channel.send("hello")
    assert standin.messages[sent.id]["content"] == "hello"
    assert standin.requests[-1].line == f"POST /channels/{standin.world.answers}/messages"
    with pytest.raises(discord.HTTPException) as refused:
        await channel.send("x" * 2001)  # over Discord's limit: 400, and recorded
    assert refused.value.status == 400 and [v.kind for v in standin.violations] == ["limit"]
    standin.inject("POST /channels/*/messages", status=403)
    with pytest.raises(discord.Forbidden):
        await channel.send("again")
    await client.close()
