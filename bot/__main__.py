"""`python -m bot`: see bot/cli.py."""

import os
import sys

from bot.cli import main

EXIT_PIPE_CLOSED = 141  # the shell's code for a writer whose reader went away (128 + SIGPIPE)

try:
    code = main()
    sys.stdout.flush()
except BrokenPipeError:
    # `python -m bot ask … | head -1`: the reader has what it wanted; no traceback for that. Python's
    # own flush at exit would fail again, so stdout is pointed at /dev/null first.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    code = EXIT_PIPE_CLOSED
sys.exit(code)
