"""`pip install .` (not editable) in a fresh virtual environment answers from any directory, with citations.

Built offline: the wheel is made from a copy of the working tree with this environment's setuptools, and the fresh
environment finds the dependencies through a .pth file pointing at this environment's site-packages (tests have no
network). What it proves is the package itself: its code and the story's knowledge shipped inside it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from .harness import ROOT

pytestmark = pytest.mark.slow
NOT_SOURCE = shutil.ignore_patterns(".venv", ".ci-venv", ".git", "build", "dist", "*.egg-info", "__pycache__",
                                    ".pytest_cache", ".ruff_cache", ".hypothesis", "data")


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done


def test_a_plain_install_answers_from_another_directory(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, symlinks=True, ignore=NOT_SOURCE)  # bot/story stays a link to knowledge/
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", tmp_path / "dist",
        source, cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("story_bot-*.whl")
    with zipfile.ZipFile(wheel) as built:
        metadata = built.read(next(n for n in built.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    psycopg = [line for line in metadata.splitlines() if line.startswith("Requires-Dist: psycopg")]
    assert psycopg and all('extra == "postgres"' in line for line in psycopg)  # the SQLite default goes without it
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path).stdout.strip()
    Path(site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run(python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", wheel, cwd=tmp_path)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH", "KNOWLEDGE_DIR"}}
    env |= {"HOME": str(elsewhere), "DISCORD_TOKEN": ""}
    done = run(python, "-m", "bot", "ask", "--json", "Who is Jamil Jivani?", cwd=elsewhere, env=env)
    reply = json.loads(done.stdout)
    assert reply["answered"] and "Conservative" in reply["answer"]
    assert reply["citations"] and all(c["paragraph"] >= 1 and c["quote"] for c in reply["citations"])
    where = run(python, "-c", "import bot.config as c; print(c.DEFAULT_KNOWLEDGE_DIR)", cwd=elsewhere, env=env)
    assert where.stdout.strip().startswith(site)  # the knowledge that shipped in the package, not the repository's
    check = run(venv / "bin" / "story-bot", "check", cwd=elsewhere, env=env)
    assert check.stdout.splitlines()[-1] == "paragraphs covered: 23/23"
    # The schema's .sql files shipped too: a database is created from them.
    made = run(python, "-c", "from bot.store import SCHEMA_VERSION, SQLiteStore; "
               "s = SQLiteStore('db.sqlite3', salt='s'); s.stats(); s.close(); print(SCHEMA_VERSION)", cwd=elsewhere,
               env=env)
    assert int(made.stdout) >= 7
