"""The answer engine: plain Python, no discord.py. Every face (CLI, console, Discord) uses it."""

from bot.engine.answer import DOESNT_SAY, Answer
from bot.engine.conversation import Conversation, ConversationBook, Turn
from bot.engine.engine import Engine, load_engine

__all__ = ["DOESNT_SAY", "Answer", "Conversation", "ConversationBook", "Engine", "Turn", "load_engine"]
