"""A local stand-in for Discord (REST + gateway on 127.0.0.1) for end-to-end tests of the bot."""

from __future__ import annotations

from .actors import Discord
from .clients import connected, pointed_at
from .limits import Problem
from .records import Event, Fault, Reply, Request, Violation
from .world import Person, World

__all__ = [
    "Discord",
    "Event",
    "Fault",
    "Person",
    "Problem",
    "Reply",
    "Request",
    "Violation",
    "World",
    "connected",
    "pointed_at",
]
