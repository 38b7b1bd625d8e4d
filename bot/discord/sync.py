"""Command sync: send the slash commands to Discord only when what a sync would send has changed.

Discord rate-limits syncs, and a global sync can take an hour to show everywhere, so the bot keeps a hash of
the last sync beside the database and syncs at start only when the commands (translations included) or where
they go have changed. `python -m bot sync` syncs now whatever the hash says.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import discord

from bot.safefile import read_regular

if TYPE_CHECKING:
    from discord import app_commands

    from bot.config import Settings

log = logging.getLogger(__name__)


class CommandSync:
    """Where the commands go (a development guild, else global), their hash, and the sync itself."""

    def __init__(self, tree: app_commands.CommandTree, settings: Settings,
                 application_id: Callable[[], int | None]) -> None:
        self.tree = tree
        self.settings = settings
        self._application_id = application_id

    @property
    def dev_guild(self) -> discord.Object | None:
        return discord.Object(self.settings.dev_guild_id) if self.settings.dev_guild_id else None

    @property
    def syncs(self) -> bool:
        """Only the process that runs shard 0 syncs: commands belong to the application, not to a shard."""
        return self.settings.shard_ids is None or 0 in self.settings.shard_ids

    @property
    def hash_path(self) -> Path:
        db = self.settings.database_path
        return db.with_name(db.stem + ".commands.sha256")

    async def hash(self) -> str:
        """A hash of what a sync would send (translations included), and where: a change in either means a sync
        is due."""
        guild, tree = self.dev_guild, self.tree
        translator = tree.translator
        commands = [await c.get_translated_payload(tree, translator) if translator else c.to_dict(tree)
                    for c in tree.get_commands(guild=guild)]
        payload = {
            "application": self._application_id(),
            "guild": guild.id if guild else None,
            "commands": sorted(commands, key=lambda c: (c["type"], c["name"])),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def stored_hash(self) -> str | None:
        try:
            return read_regular(self.hash_path, 4096).decode("ascii", "replace").strip()
        except OSError:
            return None

    def to_dev_guild(self) -> None:
        """With a development guild, the global commands are that guild's too: a sync sends them there."""
        if self.dev_guild is not None:
            self.tree.copy_global_to(guild=self.dev_guild)

    async def if_changed(self) -> None:
        """Sync if this process syncs and the commands changed since the last sync. A refused sync is logged:
        the bot runs with the commands Discord has."""
        if self.syncs and await self.hash() != self.stored_hash():
            try:
                await self.sync()
            except discord.HTTPException:
                log.exception("command sync failed; the next start tries again (or run `python -m bot sync`)")

    async def sync(self) -> int:
        """Sync to the development guild when one is set, else globally; remember what was synced."""
        synced = await self.tree.sync(guild=self.dev_guild)
        path = self.hash_path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write a temporary file, then replace: a crash mid-write never leaves half a hash.
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(await self.hash() + "\n")
            os.replace(tmp, path)
        except OSError as exc:  # the data directory is unusable: the commands are synced all the same
            log.warning("could not remember the command sync in %s (%s): the next start syncs again", path, exc)
        where = f"guild {self.dev_guild.id}" if self.dev_guild else "all guilds (global)"
        log.info("synced %d commands to %s", len(synced), where)
        return len(synced)
