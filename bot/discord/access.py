"""Where readers can use the bot: the reader commands go wherever readers are, /kb stays in servers.

Discord decides from each command's `integration_types` (installed to a server, or to a user's own
account) and `contexts` (servers, the bot's DM, other DMs and group DMs). The tree's default is a
server install only, so a command that does not say otherwise (like /kb, which edits what every
reader is told) is never usable from a user install in a server the bot is not in.
"""

from __future__ import annotations

from typing import TypeVar

from discord import app_commands

T = TypeVar("T")

SERVER_INSTALL_ONLY = app_commands.AppInstallationType(guild=True, user=False)


def everywhere(command: T) -> T:
    """Installable to a server or to a user, and usable in servers, DMs and private channels."""
    command = app_commands.allowed_installs(guilds=True, users=True)(command)
    return app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)(command)
