"""Conversations through the command line: `ask --json --conversation -` and the console keep one reader's context."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import run_bot


def test_conversation_lines_lean_on_earlier_lines_until_an_empty_line() -> None:
    lines = ["who is scott bessent?", "what did he claim?", "", "what did he claim?"]
    proc = run_bot("ask", "--json", "--conversation", "-", stdin="\n".join(lines) + "\n")
    assert proc.returncode == 0, proc.stderr
    replies = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["question"] for r in replies] == ["who is scott bessent?", "what did he claim?", "what did he claim?"]
    assert replies[1]["answered"] and replies[1]["resolved"] == "what did Scott Bessent claim?"
    assert not replies[2]["resolved"]  # a new conversation: nobody for "he" to be


def test_without_conversation_every_line_stands_alone() -> None:
    proc = run_bot("ask", "--json", "-", stdin="who is scott bessent?\nwhat did he claim?\n")
    assert json.loads(proc.stdout.splitlines()[1])["resolved"] is None


def test_the_console_keeps_the_conversation(tmp_path: Path) -> None:
    proc = run_bot("chat", stdin="who is scott bessent\nwhat did he claim?\n", env={"HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert "(understood as: what did Scott Bessent claim?)" in proc.stdout
