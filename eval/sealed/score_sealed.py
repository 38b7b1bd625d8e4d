#!/usr/bin/env python3
"""Score the bot on the sealed question set and print totals only.

Why this exists: eval/sealed/questions.yaml was written from the article alone
by someone who never saw the bot, so it measures the bot on wording nobody
working on the bot has seen. That only stays true while nobody reads the
questions or their misses. This script runs the shared scorer
(shared/eval/score.py) on the sealed set without --failures and passes on only
the aggregate lines: the table of right / of per kind, the timing line and the
final line of figures. Any other line (a MISS, a command's error output that
might echo a question) is dropped and only counted.

Usage (from the repo root, where `python -m bot` works):
  python eval/sealed/score_sealed.py [--set PATH] [--score PATH] [--cmd CMD]
                                     [--conv-cmd CMD] [--article PATH]
--set names another sealed set (default: questions.yaml beside this script),
e.g. eval/sealed/harbourline.yaml with that story's --article and knowledge.
"""
from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
QUESTIONS = HERE / "questions.yaml"

# The only shapes of line that score.py prints without --failures.
ALLOWED = [
    re.compile(r"^kind\s+right\s+of\s*$"),                       # table header
    re.compile(r"^\S+\s+\d+\s+\d+\s*$"),                          # one row per kind
    re.compile(r"^\d+ questions in [\d.]+ s wall \(.*\)\s*$"),     # timing line
    re.compile(r"^accuracy=\S+ answerable=\S+ abstain=\S+ wrong_answers=\S+ bad_lines=\S+\s*$"),
    re.compile(r"^command failed: exit -?\d+, \d+ lines for \d+ questions\s*$"),
]


def default_score() -> Path:
    """shared/eval/score.py beside the repo; from a worktree deeper down, the nearest ancestor holding it."""
    first = REPO.parent / "shared" / "eval" / "score.py"
    if first.is_file():
        return first
    for parent in REPO.parents:
        candidate = parent / "shared" / "eval" / "score.py"
        if candidate.is_file():
            return candidate
    return first


def main() -> int:
    py = shlex.quote(sys.executable)
    ap = argparse.ArgumentParser(description="Score the sealed set; print totals only.")
    ap.add_argument("--set", dest="qset", default=str(QUESTIONS),
                    help="sealed question set to score (default: questions.yaml beside this script)")
    ap.add_argument("--score", default=None,
                    help="path to score.py (default: ../shared/eval/score.py from the repo root)")
    ap.add_argument("--cmd", default=f"{py} -m bot ask --json -")
    ap.add_argument("--conv-cmd", default=f"{py} -m bot ask --json --conversation -")
    ap.add_argument("--article", default=None, help="passed on to score.py")
    args = ap.parse_args()

    score = Path(args.score).resolve() if args.score else default_score()
    if not score.is_file():
        print(f"score.py not found: {score}")
        return 2
    qset = Path(args.qset).resolve()
    if not qset.is_file():
        print(f"question set not found: {qset}")
        return 2
    argv = [sys.executable, str(score), str(qset), "--cmd", args.cmd, "--conv-cmd", args.conv_cmd]
    if args.article:
        argv += ["--article", args.article]

    proc = subprocess.run(argv, capture_output=True, text=True)
    dropped = 0
    for line in proc.stdout.splitlines():
        if line.startswith("MISS") or not any(p.match(line) for p in ALLOWED):
            dropped += 1
            continue
        print(line)
    if dropped:
        print(f"({dropped} other output lines withheld)")
    if proc.returncode != 0 and not proc.stdout.strip():
        print(f"score.py exited {proc.returncode} with no output (stderr withheld)")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
