"""What people do on the stand-in: write messages, DM the bot, run slash commands, type into
autocomplete, submit modals, click buttons. Each returns the `Event` whose replies a test awaits.

Interaction payloads follow the commands the bot synced (PUT .../commands), so option types and
subcommand nesting are Discord's; before a sync, option types are inferred from Python values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .gateway import DIRECT_MESSAGES, GUILD_MESSAGES
from .limits import LABEL, TEXT_INPUT
from .records import Event, Reply
from .server import APPLICATION_COMMAND, AUTOCOMPLETE, COMPONENT, MODAL_SUBMIT, OPTION_TYPES, StandIn
from .world import Person, World, button_press

USER_OPTION, SUBCOMMAND, GROUP = 6, 1, 2
CHAT_INPUT, MESSAGE_COMMAND = 1, 3  # application command types


class Discord(StandIn):
    """The stand-in plus the people using it."""

    # -- messages --------------------------------------------------------------------------

    async def member_says(
        self, text: str, *, channel: int | None = None, author: Person | None = None, mentions_bot: bool = False
    ) -> Event:
        """`author` (default: an ordinary member) writes `text` in a guild channel (default: the answer channel)."""
        w = self.world
        channel_id = channel or w.answers
        if mentions_bot:
            text = f"<@{w.bot.id}> {text}"
        message = self._store_message(channel_id, {"content": text}, author or w.member)
        mentioned = any(int(u["id"]) == w.bot.id for u in message["mentions"])
        return await self._deliver(message, w.guild_id, GUILD_MESSAGES, private=not mentioned)

    async def forum_post(self, title: str, text: str, *, author: Person | None = None) -> Event:
        """`author` opens a post in the forum: THREAD_CREATE, then its opening message (which has the thread's id)."""
        w = self.world
        author = author or w.member
        thread_id = self.new_id()
        thread = w.add_thread(thread_id, w.forum, title, author)
        await self.wait_connected()
        await self.gateway.dispatch("THREAD_CREATE", thread | {"newly_created": True}, guild_id=w.guild_id)
        message = self._store_message(thread_id, {"content": text}, author, id=str(thread_id))
        return await self._deliver(message, w.guild_id, GUILD_MESSAGES, private=True)

    async def dm(self, text: str, *, author: Person | None = None) -> Event:
        """`author` writes `text` to the bot in a direct message."""
        author = author or self.world.member
        message = self._store_message(self.world.dm_channel(author.id), {"content": text}, author)
        return await self._deliver(message, None, DIRECT_MESSAGES, private=False)

    async def _deliver(self, message: dict[str, Any], guild_id: int | None, intent: int, *, private: bool) -> Event:
        await self.wait_connected()
        event = self.heard(message)
        sent = await self.gateway.dispatch("MESSAGE_CREATE", message, guild_id=guild_id, intent=intent, private=private)
        assert sent, "no session asked for this message's intent, so the bot cannot see it"
        return event

    # -- application commands -------------------------------------------------------------------

    async def slash(
        self, command: str, *, user: Person | None = None, channel: int | None = None, **options: Any
    ) -> Event:
        """`user` runs `/command` ("who", or "kb add" for a subcommand) with these option values."""
        data = self._command_data(command, options, focused=None)
        return await self._interact(APPLICATION_COMMAND, data, user, channel)

    async def context_menu(
        self, name: str, target: Event, *, user: Person | None = None, user_install: bool = False
    ) -> Event:
        """`user` right-clicks the message of `target` → Apps → `name` (a message command the bot synced).

        `user_install`: the app is installed to the user's account rather than to the server, so the
        interaction is authorised by the user and the bot may not be able to post in the channel.
        """
        message = self.messages[target.id]
        command, scope = self._synced(name, MESSAGE_COMMAND)
        data: dict[str, Any] = {
            "id": (command or {}).get("id", str(self.new_id())),
            "name": name,
            "type": MESSAGE_COMMAND,
            "target_id": message["id"],
            "resolved": {"messages": {message["id"]: message}},
        }
        if scope is not None:
            data["guild_id"] = str(scope)
        return await self._interact(
            APPLICATION_COMMAND, data, user, int(message["channel_id"]), user_install=user_install
        )

    async def types_into(
        self, command: str, option: str, typed: str, *, user: Person | None = None, **others: Any
    ) -> Event:
        """`user` types `typed` into `option` of `/command`: the autocomplete interaction, unanswered yet."""
        data = self._command_data(command, {**others, option: typed}, focused=option)
        return await self._interact(AUTOCOMPLETE, data, user, None)

    async def autocomplete(
        self, command: str, option: str, typed: str, *, user: Person | None = None, **others: Any
    ) -> list[dict[str, Any]]:
        """The choices the bot offers when `user` types `typed` into `option` of `/command`."""
        reply = await (await self.types_into(command, option, typed, user=user, **others)).reply()
        assert reply.kind == "autocomplete", f"expected autocomplete choices, got a {reply.kind}"
        return reply.choices

    def _command_data(self, command: str, values: dict[str, Any], focused: str | None) -> dict[str, Any]:
        root, scope = self._synced(command.removeprefix("/").split()[0])
        return command_data(self.world, command, values, focused=focused, root=root, scope=scope, new_id=self.new_id)

    def _synced(self, name: str, kind: int = CHAT_INPUT) -> tuple[dict[str, Any] | None, int | None]:
        """The synced command and the guild it was synced to (None: global); (None, None) before any sync."""
        for scope in (self.world.guild_id, None):
            for command in self.commands.get(scope, []):
                if command["name"] == name and command.get("type", CHAT_INPUT) == kind:
                    return command, scope
        assert not self.commands, f"{name!r} (type {kind}) is not among the synced commands"
        return None, None

    # -- components and modals ----------------------------------------------------------------

    async def submit_modal(
        self, modal: Reply, values: dict[str, str], *, user: Person | None = None, channel: int | None = None
    ) -> Event:
        """`user` fills the modal the bot showed (`values` keyed by an input's custom_id or label) and submits it."""
        assert modal.kind == "modal", f"expected a modal, got a {modal.kind}"
        data = modal_data(modal.body, values)
        return await self._interact(MODAL_SUBMIT, data, user, channel)

    async def click(self, reply: Reply, custom_id: str, *, user: Person | None = None) -> Event:
        """`user` presses the button `custom_id` on a message the bot sent."""
        assert reply.message is not None, "this reply created no message to click on"
        assert custom_id in reply.custom_ids(), (
            f"no component {custom_id!r} on that message; it has {reply.custom_ids()}"
        )
        data = button_press(custom_id)
        channel = int(reply.message["channel_id"])
        return await self._interact(COMPONENT, data, user, channel, message=reply.message)

    # -- the interaction envelope ---------------------------------------------------------------

    async def _interact(
        self,
        kind: int,
        data: dict[str, Any],
        user: Person | None,
        channel: int | None,
        message: dict[str, Any] | None = None,
        *,
        user_install: bool = False,
    ) -> Event:
        await self.wait_connected()
        w = self.world
        channel_id = channel or w.answers
        in_guild = w.in_guild(channel_id)
        payload = w.interaction(
            kind,
            data,
            interaction_id=self.new_id(),
            token=self.new_token(),
            user=user or w.member,
            channel_id=channel_id,
            message=message,
            user_install=user_install,
        )
        event = self.expect(payload)
        guild_id = w.guild_id if in_guild else None
        sent = await self.gateway.dispatch("INTERACTION_CREATE", payload, guild_id=guild_id)
        assert sent, "no live gateway session to deliver the interaction to"
        return event


CHANNEL_OPTION = 7


@dataclass(frozen=True)
class ChannelOption:
    """A channel given as a command option's value (`/kb story set channel:`)."""

    id: int


def command_data(
    world: World,
    command: str,
    values: dict[str, Any],
    *,
    focused: str | None = None,
    root: dict[str, Any] | None = None,
    scope: int | None = None,
    new_id: Callable[[], int],
) -> dict[str, Any]:
    """The `data` of `/command` ("kb add" for a subcommand) run with these option values.

    `root` is the command as the bot synced it (option types and nesting are then Discord's, and unknown or
    missing options fail the test); None infers option types from the Python values. `scope`: the guild the
    command was synced to (None: global).
    """
    path = command.removeprefix("/").split()
    node: dict[str, Any] = root or {}
    chain: list[dict[str, Any]] = []
    for name in path[1:]:
        node = next(
            (o for o in node.get("options") or [] if o["name"] == name and o["type"] in (SUBCOMMAND, GROUP)), {}
        )
        assert root is None or node, f"/{command}: no subcommand {name!r} was synced"
        chain.append({"type": node.get("type", SUBCOMMAND if name == path[-1] else GROUP), "name": name, "options": []})
    options, resolved = _options(world, command, node if root else None, values, focused)
    data: dict[str, Any] = {"id": (root or {}).get("id", str(new_id())), "name": path[0], "type": 1}
    if scope is not None:
        data["guild_id"] = str(scope)
    if resolved:
        data["resolved"] = resolved
    holder = data
    for link in chain:
        holder["options"] = [link]
        holder = link
    holder["options"] = options
    return data


def _options(
    world: World, command: str, node: dict[str, Any] | None, values: dict[str, Any], focused: str | None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    specs = {o["name"]: o for o in (node or {}).get("options") or []}
    if node is not None:
        unknown = set(values) - set(specs)
        assert not unknown, f"/{command} has no option(s) {sorted(unknown)}"
        missing = [n for n, o in specs.items() if o.get("required") and n not in values and focused is None]
        assert not missing, f"Discord would not let /{command} run without {missing}"
    options, resolved = [], {}
    for name, value in values.items():
        kind = specs[name]["type"] if name in specs else OPTION_TYPES.get(type(value), USER_OPTION)
        if isinstance(value, ChannelOption):  # a channel picked in the option: Discord resolves it
            kind = CHANNEL_OPTION
            channel = world.channel(value.id)
            assert channel is not None, f"no channel {value.id} in the world"
            resolved.setdefault("channels", {})[str(value.id)] = {**channel, "permissions": str((1 << 41) - 1)}
            value = str(value.id)
        if isinstance(value, Person):
            member = {**value.member(), "permissions": str(world.permissions(value))}
            del member["user"]
            resolved.setdefault("users", {})[str(value.id)] = value.user()
            resolved.setdefault("members", {})[str(value.id)] = member
            value = str(value.id)
        choices = [c["value"] for c in specs.get(name, {}).get("choices") or []]
        assert name == focused or not choices or value in choices, f"{value!r} is not a choice of {name!r}"
        option = {"type": kind, "name": name, "value": value}
        if name == focused:
            option["focused"] = True
        options.append(option)
    return options, resolved


def modal_data(modal: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """The `data` of submitting `modal` (the form the bot sent) filled with `values`, keyed by an input's
    custom_id or label; an input not named keeps the value the form showed."""
    unused = dict(values)
    rows = []
    for row in modal.get("components") or []:
        inputs = [row["component"]] if row.get("type") == LABEL else row.get("components") or []
        label = row.get("label") or (inputs[0].get("label") if inputs else None)
        filled = []
        for c in inputs:
            key = c["custom_id"] if c["custom_id"] in unused else label
            value = unused.pop(key, c.get("value") or "")
            filled.append(
                {"type": c["type"], "custom_id": c["custom_id"]}
                | ({"value": value} if c["type"] == TEXT_INPUT else {"values": [value]})
            )
        rows.append(
            {"type": LABEL, "component": filled[0]} if row.get("type") == LABEL else {"type": 1, "components": filled}
        )
    assert not unused, f"the modal has no inputs named {sorted(unused)}"
    return {"custom_id": modal["custom_id"], "components": rows}
