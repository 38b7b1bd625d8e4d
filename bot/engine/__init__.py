"""The answer engine: plain Python, no discord.py. Every face (CLI, console, Discord) uses it."""

import os

# One BLAS thread, set before numpy loads: a question's matrix-vector product is small, and on a busy
# two-core machine OpenBLAS's extra threads wait on each other, turning 20 µs into 5 ms. The bot answers
# several questions at once instead (bot/discord's answer pool). An explicit setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from bot.engine.answer import DOESNT_SAY, Answer
from bot.engine.conversation import Conversation, ConversationBook, Turn
from bot.engine.engine import Engine, load_engine

__all__ = ["DOESNT_SAY", "Answer", "Conversation", "ConversationBook", "Engine", "Turn", "load_engine"]
