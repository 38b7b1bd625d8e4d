"""The answer engine: plain Python, no discord.py. Every face (CLI, console, Discord) uses it."""

from bot.engine.answer import DOESNT_SAY, Answer
from bot.engine.engine import Engine, load_engine

__all__ = ["DOESNT_SAY", "Answer", "Engine", "load_engine"]
