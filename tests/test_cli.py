"""The command line as users and outside checks run it: the JSON contract, check, chat, start-up."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import DEFAULT_KNOWLEDGE_DIR, missing_token
from bot.knowledge import load_knowledge

ROOT = Path(__file__).resolve().parents[1]
KEYS = {"question", "answered", "answer", "confidence", "citations", "source", "suggestions"}


def run_bot(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "DISCORD_TOKEN": "", **(env or {})}
    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, env=full_env, timeout=60)


def test_json_lines_follow_the_contract_in_order() -> None:
    questions = ["Who is Jamil Jivani?", "", "Recommend a good movie", "@everyone \u200b\u202e what??", "rubio"]
    proc = run_bot("ask", "--json", "-", stdin="\n".join(questions) + "\n")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(questions)
    kb = load_knowledge(ROOT / "knowledge").kb
    assert kb is not None
    for question, line in zip(questions, lines, strict=True):
        reply = json.loads(line)
        assert set(reply) >= KEYS  # fields may be added, none removed
        assert reply["question"] == question
        assert isinstance(reply["answered"], bool)
        assert 0.0 <= reply["confidence"] <= 1.0
        assert isinstance(reply["suggestions"], list) and len(reply["suggestions"]) <= 3
        if reply["answered"]:
            assert reply["answer"] and reply["citations"] and reply["source"]
        for c in reply["citations"]:
            assert kb.article.verify_quote(c["paragraph"], c["quote"]) is None
    first = json.loads(lines[0])
    assert first["answered"] and "Conservative" in first["answer"]
    assert not json.loads(lines[2])["answered"]


def test_json_is_flushed_per_line() -> None:
    """A caller can read each reply before sending the next question."""
    proc = subprocess.Popen([sys.executable, "-m", "bot", "ask", "--json", "-"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdin and proc.stdout
    try:
        for question in ("Who is Marco Rubio?", "What is CUSMA?"):
            proc.stdin.write(question + "\n")
            proc.stdin.flush()
            assert json.loads(proc.stdout.readline())["question"] == question
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    assert proc.returncode == 0


def test_a_reader_that_stops_reading_gets_no_traceback() -> None:
    """`python -m bot ask --json - < questions | head -1`: the closed pipe ends the run quietly."""
    proc = subprocess.Popen([sys.executable, "-m", "bot", "ask", "--json", "-"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdin and proc.stdout and proc.stderr
    proc.stdin.write("Who is Marco Rubio?\n")
    proc.stdin.flush()
    assert json.loads(proc.stdout.readline())["answered"]
    proc.stdout.close()  # the reader goes away; the bot's next line has nowhere to go
    proc.stdin.write("What is CUSMA?\n")
    proc.stdin.close()
    assert proc.wait(timeout=30) == 141
    assert proc.stderr.read() == f"knowledge: {(ROOT / 'knowledge').resolve()}\n"  # which folder, and nothing else


def test_text_answer_and_explain() -> None:
    proc = run_bot("ask", "--explain", "who", "is", "rubbio")
    assert proc.returncode == 0, proc.stderr
    assert "Marco Rubio" in proc.stdout
    assert "¶4 — “" in proc.stdout
    assert "prob   rank" in proc.stdout and "person:rubio" in proc.stdout


def test_check_prints_coverage_last() -> None:
    proc = run_bot("check")
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.splitlines()[-1] == "paragraphs covered: 23/23"


def test_broken_knowledge_gives_path_line_and_exit_1(tmp_path: Path) -> None:
    import shutil

    kdir = tmp_path / "k"
    shutil.copytree(ROOT / "knowledge", kdir)
    (kdir / "qa.yaml").write_text("- id: x\n  question: [broken\n", encoding="utf-8")
    proc = run_bot("check", "--knowledge", str(kdir))
    assert proc.returncode == 1
    assert "qa.yaml:2: a list in [ ] is not closed" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    proc = run_bot("ask", "--knowledge", str(kdir), "Who is Jivani?")  # the rest of the knowledge still answers
    assert proc.returncode == 0 and "qa.yaml:2: a list in [ ] is not closed" in proc.stderr
    assert "Traceback" not in proc.stderr and "Bowmanville" in proc.stdout


def test_no_token_with_a_terminal_starts_the_console_and_says_so() -> None:
    main, terminal = pty.openpty()
    try:
        os.write(main, b"who is bessent\n\n")
        proc = subprocess.run([sys.executable, "-m", "bot"], stdin=terminal, capture_output=True, text=True,
                              cwd=ROOT, env={**os.environ, "DISCORD_TOKEN": ""}, timeout=60)
    finally:
        os.close(main)
        os.close(terminal)
    assert proc.returncode == 0, proc.stderr
    assert "DISCORD_TOKEN is not set" in proc.stderr
    assert "Scott Bessent" in proc.stdout
    assert (Path(os.environ["HOME"]) / ".story_bot_history").exists()  # the suite's HOME, not the real one


def test_no_token_and_no_terminal_is_one_line_and_exit_2() -> None:
    """Under systemd or Docker without a token there is nobody to chat with: say so, exit 2 (not 0)."""
    proc = run_bot(stdin="who is bessent\n")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "DISCORD_TOKEN is not set" in proc.stderr
    assert proc.stdout == ""


def test_chat_answers_until_eof() -> None:
    proc = run_bot("chat", stdin="what is the board of peace\nhow tall is jd vance\n")
    assert proc.returncode == 0, proc.stderr
    assert "Board of Peace" in proc.stdout
    assert "The story doesn't say." in proc.stdout


def test_bad_setting_is_one_line_and_exit_2() -> None:
    proc = run_bot("check", env={"COOLDOWN": "often"})
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "COOLDOWN" in proc.stderr


def test_cli_paths_never_import_discord() -> None:
    code = ("import sys, bot.cli; from bot.engine import load_engine; load_engine(bot.cli.Settings().knowledge_dir); "
            "print('discord' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.stdout.strip() == "False", proc.stderr


def test_ask_json_is_written_whatever_the_locale() -> None:
    """With an ASCII stdout (LC_ALL=C without UTF-8 mode) an answer's "—" ended `ask` with UnicodeEncodeError."""
    ascii_env = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0",
                 "PYTHONIOENCODING": "ascii", "DISCORD_TOKEN": ""}
    questions = "who is jivani\nwho is \ud800 jivani\n".encode("utf-8", "surrogatepass")  # the bytes of a lone one
    proc = subprocess.run([sys.executable, "-m", "bot", "ask", "--json", "-"], input=questions, capture_output=True,
                          cwd=ROOT, env=ascii_env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    answers = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [a["source"] for a in answers] == ["person:jivani", "person:jivani"]
    assert "—" in answers[0]["answer"]


def test_check_and_ask_say_which_knowledge_folder_they_read(tmp_path: Path) -> None:
    """Outside the deploy directory `check` quietly validated the copy inside the package."""
    env = {**os.environ, "DISCORD_TOKEN": ""}
    env.pop("KNOWLEDGE_DIR", None)
    env.pop("STORY_BOT_HOME", None)
    checked = subprocess.run([sys.executable, "-m", "bot", "check"], capture_output=True, text=True, cwd=tmp_path,
                             env=env, timeout=60)
    assert checked.stdout.splitlines()[0] == f"knowledge: {DEFAULT_KNOWLEDGE_DIR}"
    asked = subprocess.run([sys.executable, "-m", "bot", "ask", "--json", "who is jivani"], capture_output=True,
                           text=True, cwd=tmp_path, env=env, timeout=60)
    assert asked.stderr == f"knowledge: {DEFAULT_KNOWLEDGE_DIR}\n"
    assert json.loads(asked.stdout)["answered"]  # the JSON stream is only JSON


def test_gaps_without_a_database_creates_nothing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_PATH", "DATABASE_URL", "STATS_SALT"}}
    done = subprocess.run([sys.executable, "-m", "bot", "gaps"], capture_output=True, text=True, cwd=tmp_path,
                          env={**env, "STORY_BOT_HOME": str(tmp_path)}, timeout=60)
    assert done.returncode == 0 and "No questions recorded yet" in done.stdout
    assert list(tmp_path.iterdir()) == []  # no data/, no salt file


@pytest.mark.parametrize(("files", "says"), [
    ({".env": "DISCORD_TOKEN=\n"}, "has no token (or an empty one); put the bot's token there"),
    ({".env.example": "DISCORD_TOKEN=\n"}, "copy {home}/.env.example to {home}/.env"),
    ({}, "set it in the environment"),  # the container: no .env.example there
])
def test_a_missing_token_is_explained_for_where_the_bot_runs(tmp_path: Path, files: dict[str, str],
                                                             says: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert says.format(home=tmp_path) in missing_token(tmp_path)
    assert ("copy" in missing_token(tmp_path)) == (".env.example" in files)


def test_database_url_without_psycopg_is_one_line_and_exit_2(tmp_path: Path, monkeypatch, capsys) -> None:
    """psycopg is the postgres extra: a default install with DATABASE_URL set says so instead of a traceback."""
    import importlib.util

    from bot import cli

    monkeypatch.setenv("STORY_BOT_HOME", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", "postgresql://bot@db.invalid/story")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "psycopg" else real(name, *a))
    assert cli.main(["gaps"]) == cli.EXIT_CONFIG
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "story-bot[postgres]" in err
