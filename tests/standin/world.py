"""The one guild the stand-in serves: its roles, channels and people, as Discord's JSON.

Payloads are built as plain dicts from Discord's documentation, not with discord.py,
so a mistake in the library's parsing cannot be hidden by the same mistake here.
"""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass, field
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000
JOINED_AT = "2024-01-01T00:00:00+00:00"

# Permission bits, from Discord's documentation.
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_APPLICATION_COMMANDS = 1 << 31
MANAGE_GUILD = 1 << 5
KICK_MEMBERS = 1 << 1
ADMINISTRATOR = 1 << 3
EVERYONE_PERMISSIONS = (
    ADD_REACTIONS | VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | READ_MESSAGE_HISTORY | USE_APPLICATION_COMMANDS
)
MODERATOR_PERMISSIONS = MANAGE_GUILD | MANAGE_MESSAGES | KICK_MEMBERS | MENTION_EVERYONE

TEXT_CHANNEL, DM_CHANNEL, PUBLIC_THREAD, FORUM_CHANNEL = 0, 1, 11, 15
ATTACHMENT_LIMIT = 10 * 1024 * 1024
USER_MENTION, ROLE_MENTION = re.compile(r"<@!?(\d{15,21})>"), re.compile(r"<@&(\d{15,21})>")


class Snowflakes:
    """Time-ordered ids like Discord's: milliseconds since 2015 shifted left 22, plus a counter."""

    def __init__(self) -> None:
        self._counter = itertools.count()

    def __call__(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (ms << 22) | (next(self._counter) & 0x3FFFFF)


def iso_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())


def button_press(custom_id: str) -> dict[str, Any]:
    """The `data` of an interaction pressing the button `custom_id`."""
    return {"custom_id": custom_id, "component_type": 2}


@dataclass(frozen=True, slots=True)
class Person:
    """A user of the guild; `roles` are role ids besides @everyone."""

    id: int
    name: str
    roles: tuple[int, ...] = ()
    bot: bool = False

    def user(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.name,
            "global_name": self.name.title(),
            "discriminator": "0",
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }

    def member(self) -> dict[str, Any]:
        return {
            "user": self.user(),
            "roles": [str(r) for r in self.roles],
            "nick": None,
            "joined_at": JOINED_AT,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
        }


@dataclass
class World:
    """Fixed ids so tests can name things; members beyond the named ones are made on demand."""

    guild_id: int = 1_100_000_000_000_000_001
    bot: Person = field(default_factory=lambda: Person(1_200_000_000_000_000_001, "storybot", bot=True))
    moderator_role: int = 1_300_000_000_000_000_001
    readers_role: int = 1_300_000_000_000_000_002
    answers: int = 1_400_000_000_000_000_001  # the channel configured for plain questions
    chatter: int = 1_400_000_000_000_000_002  # a channel where the bot only answers mentions
    mod_log: int = 1_400_000_000_000_000_003
    forum: int = 1_400_000_000_000_000_004  # a forum channel: every post is a thread
    member: Person = field(default_factory=lambda: Person(1_500_000_000_000_000_001, "alice"))
    moderator: Person = field(
        default_factory=lambda: Person(1_500_000_000_000_000_002, "mo", roles=(1_300_000_000_000_000_001,))
    )
    owner_id: int = 1_500_000_000_000_000_999
    extra: dict[int, Person] = field(default_factory=dict)
    dm_channels: dict[int, int] = field(default_factory=dict)  # user id -> DM channel id
    threads: dict[int, dict[str, Any]] = field(default_factory=dict)  # thread id -> its channel object

    @property
    def application_id(self) -> int:
        return self.bot.id  # true of every application created since 2019

    @property
    def channels(self) -> dict[int, str]:
        return {self.answers: "ask-the-story", self.chatter: "general", self.mod_log: "mod-log"}

    def in_guild(self, channel_id: int) -> bool:
        return channel_id in self.channels or channel_id == self.forum or channel_id in self.threads

    def add_thread(self, thread_id: int, parent_id: int, name: str, owner: Person) -> dict[str, Any]:
        """A public thread (a forum post when `parent_id` is the forum), as THREAD_CREATE carries it."""
        thread = {
            "id": str(thread_id),
            "type": PUBLIC_THREAD,
            "guild_id": str(self.guild_id),
            "parent_id": str(parent_id),
            "owner_id": str(owner.id),
            "name": name,
            "last_message_id": str(thread_id),
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "applied_tags": [],
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 4320,
                "archive_timestamp": iso_now(),
                "locked": False,
                "create_timestamp": iso_now(),
            },
        }
        self.threads[thread_id] = thread
        return thread

    def reader(self, n: int) -> Person:
        """The n-th extra member, created on first use (load tests use thousands)."""
        person_id = 1_600_000_000_000_000_000 + n
        return self.extra.setdefault(person_id, Person(person_id, f"reader{n}"))

    def person(self, user_id: int) -> Person | None:
        for p in (self.bot, self.member, self.moderator):
            if p.id == user_id:
                return p
        return self.extra.get(user_id)

    def dm_channel(self, user_id: int) -> int:
        return self.dm_channels.setdefault(user_id, 1_700_000_000_000_000_000 + user_id % 1_000_000_000)

    def permissions(self, person: Person) -> int:
        bits = EVERYONE_PERMISSIONS
        if self.moderator_role in person.roles:
            bits |= MODERATOR_PERMISSIONS
        return bits

    def roles(self) -> list[dict[str, Any]]:
        def role(role_id: int, name: str, permissions: int, position: int) -> dict[str, Any]:
            return {
                "id": str(role_id),
                "name": name,
                "permissions": str(permissions),
                "position": position,
                "color": 0,
                "hoist": False,
                "managed": False,
                "mentionable": True,
                "flags": 0,
            }

        return [
            role(self.guild_id, "@everyone", EVERYONE_PERMISSIONS, 0),
            role(self.readers_role, "Readers", 0, 1),
            role(self.moderator_role, "Moderators", MODERATOR_PERMISSIONS, 2),
        ]

    def channel(self, channel_id: int) -> dict[str, Any] | None:
        if channel_id in self.threads:
            return self.threads[channel_id]
        if channel_id in self.channels or channel_id == self.forum:
            forum = channel_id == self.forum
            channel = {
                "id": str(channel_id),
                "type": FORUM_CHANNEL if forum else TEXT_CHANNEL,
                "guild_id": str(self.guild_id),
                "name": "questions" if forum else self.channels[channel_id],
                "position": len(self.channels) if forum else list(self.channels).index(channel_id),
                "permission_overwrites": [],
                "nsfw": False,
                "parent_id": None,
                "topic": None,
                "rate_limit_per_user": 0,
                "last_message_id": None,
                "flags": 0,
            }
            if forum:  # what only a forum has: tags, and defaults for its posts
                channel |= {
                    "available_tags": [],
                    "default_reaction_emoji": None,
                    "default_thread_rate_limit_per_user": 0,
                    "default_sort_order": None,
                    "default_forum_layout": 0,
                }
            return channel
        for user_id, dm_id in self.dm_channels.items():
            if dm_id == channel_id:
                person = self.person(user_id)
                recipients = [person.user()] if person else []
                return {"id": str(dm_id), "type": DM_CHANNEL, "recipients": recipients, "last_message_id": None}
        return None

    def guild(self) -> dict[str, Any]:
        """The full GUILD_CREATE payload; member_count equals the members sent, so no chunking is needed."""
        members = [p.member() for p in (self.bot, self.member, self.moderator)]
        return {
            "id": str(self.guild_id),
            "name": "The Story",
            "icon": None,
            "owner_id": str(self.owner_id),
            "roles": self.roles(),
            "channels": [c for c in map(self.channel, [*self.channels, self.forum]) if c],
            "members": members,
            "member_count": len(members),
            "large": False,
            "unavailable": False,
            "joined_at": JOINED_AT,
            "presences": [],
            "voice_states": [],
            "threads": list(self.threads.values()),
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "emojis": [],
            "stickers": [],
            "features": [],
            "premium_tier": 0,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "system_channel_flags": 0,
            "preferred_locale": "en-US",
        }

    # -- what happens in it, as the gateway delivers it ------------------------------------------

    def message(
        self,
        message_id: int,
        channel_id: int,
        body: dict[str, Any],
        author: Person,
        *,
        replying_to: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A message object: `body` is what its author sent (content, embeds, components, flags, a reference).

        `replying_to`: the message it answers, which the gateway's MESSAGE_CREATE carries whole.
        """
        if replying_to is not None:
            reference = {"type": 0, "message_id": replying_to["id"], "channel_id": replying_to["channel_id"]}
            body = body | {"message_reference": reference}
        guild_id = self.guild_id if self.in_guild(channel_id) else None
        content = str(body.get("content") or "")
        users = {int(u) for u in USER_MENTION.findall(content)}
        permitted = self.permissions(author) & MENTION_EVERYONE if guild_id else 0
        message: dict[str, Any] = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "author": author.user(),
            "content": content,
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": bool(permitted) and ("@everyone" in content or "@here" in content),
            "mentions": [p.user() for u in users if (p := self.person(u))],
            "mention_roles": ROLE_MENTION.findall(content) if guild_id else [],
            "attachments": body.get("attachments") or [],
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "type": 19 if body.get("message_reference") else 0,
            "flags": int(body.get("flags") or 0),
        }
        if body.get("message_reference"):
            message["message_reference"] = {"channel_id": str(channel_id), **body["message_reference"]}
        if replying_to is not None:
            message["referenced_message"] = replying_to
        if guild_id:
            message["guild_id"] = str(guild_id)
            message["member"] = {k: v for k, v in author.member().items() if k != "user"}
        return message

    def interaction(
        self,
        kind: int,
        data: dict[str, Any],
        *,
        interaction_id: int,
        token: str,
        user: Person,
        channel_id: int,
        message: dict[str, Any] | None = None,
        user_install: bool = False,
    ) -> dict[str, Any]:
        """An INTERACTION_CREATE payload: `user` did `kind` (command, component, autocomplete, modal) in a channel.

        `user_install`: the app is installed to the user's account rather than to the server.
        """
        in_guild = self.in_guild(channel_id)
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "channel": self.channel(channel_id) or self.channel(self.dm_channel(user.id)),
            "channel_id": str(channel_id),
            "token": token,
            "version": 1,
            "app_permissions": str((1 << 41) - 1),
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": ATTACHMENT_LIMIT,
            "context": 0 if in_guild else 1,
        }
        if in_guild:
            payload |= {
                "guild_id": str(self.guild_id),
                "guild": {"id": str(self.guild_id), "locale": "en-US", "features": []},
                "guild_locale": "en-US",
                "member": {**user.member(), "permissions": str(self.permissions(user))},
                "authorizing_integration_owners": {"1": str(user.id)} if user_install else {"0": str(self.guild_id)},
            }
        else:
            payload |= {"user": user.user(), "authorizing_integration_owners": {"1": str(user.id)}}
        if message is not None:
            payload["message"] = message
        return payload
