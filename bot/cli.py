"""Command line: ask | chat | check | paragraph | run | sync | gaps | new-story. A thin face over the engine.

discord.py is imported only by `run` and `sync`, and the editor and lint only by `check`, so `ask` starts fast.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from bot.config import Settings, SettingsError, home_dir, missing_token
from bot.engine import Answer, Conversation, Engine, load_engine
from bot.engine.semantic import ModelError, shared_embedder
from bot.knowledge import load_knowledge
from bot.knowledge.article import paragraph_number
from bot.knowledge.loader import LOOKS_LIKE_HEADING, Problem, load_article
from bot.knowledge.packs import Pack, PackError, check_slug, new_story, pick_pack

# 3 is `run`'s: Discord unreachable at start (bot/discord/runner.py).
EXIT_OK, EXIT_PROBLEMS, EXIT_CONFIG, EXIT_MODEL = 0, 1, 2, 4
EXIT_CODES = """exit codes:
  0  done (or a clean stop of `run`)
  1  the knowledge has problems (`check` lists them as path:line lines)
  2  configuration: a setting the bot cannot use, an unreadable .env, or no token and no terminal
  3  `run`: Discord could not be reached at start
  4  the meaning model (bot/engine/model) is missing, damaged or not the one shipped: reinstall the bot
  141  the output pipe closed early (`... | head -1`)"""
# psycopg is an extra (`pip install "story-bot[postgres]"`): the SQLite default install goes without it.
NO_PSYCOPG = ("configuration error: DATABASE_URL is set but psycopg is not installed: "
              "pip install \"story-bot[postgres]\" (or '.[postgres]' from a checkout), or unset DATABASE_URL")


def main(argv: list[str] | None = None) -> int:
    # Under LC_ALL=C without UTF-8 mode the streams are ASCII: an answer's "—" (or a reader's lone surrogate)
    # ended `ask` with a UnicodeEncodeError, and a question's "é" with a UnicodeDecodeError. Written escaped, the
    # output is still valid JSON ("\u2014"); read as lone surrogates, the engine makes the input well-formed.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="backslashreplace")
    if isinstance(sys.stdin, io.TextIOWrapper):
        sys.stdin.reconfigure(errors="surrogateescape")
    try:
        return _main(argv)
    except ModelError as exc:  # from whichever command first loads the model: one line, its own exit code
        print(f"model error: {exc}", file=sys.stderr)
        return EXIT_MODEL


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        return _config_error(exc)
    command = args.command
    if command == "new-story":
        return new_story_command(settings, args.slug, Path(args.article), sys.stdout)
    try:
        packs = settings.packs()
        knowledge = _knowledge_dir(args, packs, settings.default_story)
    except (SettingsError, PackError) as exc:
        return _config_error(exc)
    if command is None:
        # The contract: the bot when a token is set, else the console chat when there is a terminal;
        # with neither (systemd, Docker without a token) one line and exit 2, never a silent exit 0.
        if settings.token:
            command = "run"
        elif sys.stdin.isatty():
            print("DISCORD_TOKEN is not set, so here is the console chat instead of Discord "
                  "(set it in .env to run the bot).", file=sys.stderr)
            command = "chat"
        else:  # nobody to chat with either (systemd, a container)
            print(missing_token(home_dir(os.environ)), file=sys.stderr)
            return EXIT_CONFIG
    if command == "check":
        # Every story, unless one was named: a pack that fails here would be refused at the bot's start.
        folders = [knowledge] if args.story or args.knowledge else [pack.directory for pack in packs.values()]
        return max(check(folder, sys.stdout, fix=args.fix, lint=args.lint or args.strict, strict=args.strict)
                   for folder in folders)
    if command == "paragraph":
        return paragraph(knowledge, args.number, sys.stdout)
    if command == "ask":
        return ask(knowledge, args.question, as_json=args.json, explain=args.explain,
                   conversation=args.conversation, out=sys.stdout)
    if command == "chat":
        return chat(knowledge)
    if command in {"gaps", "run", "sync"} and settings.database_url and importlib.util.find_spec("psycopg") is None:
        print(NO_PSYCOPG, file=sys.stderr)  # found without importing it
        return EXIT_CONFIG
    if command == "gaps":
        from bot.gaps import print_gaps

        engine, _problems = load_engine(knowledge)  # None: the gaps are listed without being asked again
        try:
            return print_gaps(settings, sys.stdout, engine,  # takes the salt only if there is a database
                              story=args.story or settings.default_story)
        except SettingsError as exc:
            return _config_error(exc)
    try:  # run and sync hash reader ids
        settings = settings.with_salt()
    except SettingsError as exc:
        return _config_error(exc)
    from bot.discord import runner  # only now: discord.py is heavy and the other commands never need it

    if command == "sync":
        return runner.sync(settings)
    shared_embedder()  # a damaged model is exit 4 before Discord is contacted, not after a login
    return runner.run(settings)


def _knowledge_dir(args: argparse.Namespace, packs: dict[str, Pack], default: str) -> Path:
    """The folder a command reads: --knowledge DIR, else the story --story names, else the default story's."""
    if folder := getattr(args, "knowledge", None):
        return Path(folder)
    return pick_pack(packs, getattr(args, "story", None) or default).directory


def new_story_command(settings: Settings, slug: str, article: Path, out: TextIO) -> int:
    """Start a pack for a new story under STORIES_DIR (else stories/ in the bot's home) and say what comes next."""
    try:
        check_slug(slug)
        stories = settings.stories_dir or home_dir(os.environ) / "stories"
        lines = new_story(stories / slug, article)
    except (PackError, OSError, UnicodeDecodeError) as exc:
        return _config_error(exc)
    if settings.stories_dir is None:
        lines.append(f"and set STORIES_DIR={stories} (in .env) for the bot to serve it as `{slug}`")
    for line in lines:
        print(line, file=out)
    return EXIT_OK


def _config_error(exc: Exception) -> int:
    print(f"configuration error: {exc}", file=sys.stderr)
    return EXIT_CONFIG


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Answers questions about the story, cited.",
                                     epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    p_ask = sub.add_parser("ask", help="answer a question (or '-' to read one per line from stdin)")
    p_ask.add_argument("question", nargs="+", help="the question, or '-' for stdin")
    p_ask.add_argument("--json", action="store_true", help="one JSON object per question")
    p_ask.add_argument("--explain", action="store_true", help="show the top candidates and their scores")
    p_ask.add_argument("--conversation", action="store_true",
                       help="consecutive lines are one reader's conversation; an empty line starts a new one")
    sub.add_parser("chat", help="ask questions in an interactive console")
    p_check = sub.add_parser("check", help="validate the knowledge files")
    p_check.add_argument("--fix", action="store_true",
                         help="renumber citations whose quote is now in another paragraph, and show the diff")
    p_check.add_argument("--lint", action="store_true",
                         help="also warn about phrasings the engine matches anyway and answers that repeat each other")
    p_check.add_argument("--strict", action="store_true",
                         help="--lint, and exit 1 on any warning too (CI keeps the knowledge lint-clean)")
    p_par = sub.add_parser("paragraph", help="show a paragraph of the article with its number (all of them without N)")
    p_par.add_argument("number", nargs="?", help="the paragraph: 15 or ¶15")
    sub.add_parser("run", help="run the Discord bot (needs DISCORD_TOKEN)")
    sub.add_parser("sync", help="sync slash commands with Discord now")
    sub.add_parser("gaps", help="print the questions readers asked that the bot could not answer")
    p_gaps = sub.choices["gaps"]
    p_gaps.add_argument("--story", metavar="SLUG", help="the story whose gaps to list (default: DEFAULT_STORY)")
    p_new = sub.add_parser("new-story", help="start a story pack from an article: the files to fill in")
    p_new.add_argument("slug", help="the story's short name (lower case, digits, hyphens): its folder's name")
    p_new.add_argument("--article", required=True, metavar="FILE", help="the article, as plain text")
    for p in (p_ask, sub.choices["chat"], p_check, p_par):
        where = p.add_mutually_exclusive_group()
        where.add_argument("--knowledge", metavar="DIR",
                           help="knowledge directory (default: KNOWLEDGE_DIR, else knowledge/ in STORY_BOT_HOME or "
                                "the working directory, else the story shipped with the bot)")
        where.add_argument("--story", metavar="SLUG",
                           help="a story by its slug: `main` (the knowledge directory) or a folder of STORIES_DIR "
                                "(default: DEFAULT_STORY; `check` without it checks every story)")
    return parser


def _engine_or_report(knowledge: Path) -> Engine | None:
    """The engine over everything valid; problems go to stderr, and the answers go on without the bad entries.

    The folder read is said first, on stderr (never in the JSON stream): run outside the deploy directory,
    the bot quietly answers from the copy inside the package.
    """
    print(f"knowledge: {knowledge.resolve()}", file=sys.stderr)
    engine, problems = load_engine(knowledge)
    for problem in problems:
        print(problem, file=sys.stderr)
    if engine is None:
        print(f"the knowledge in {knowledge} has problems; run `python -m bot check` for the full list",
              file=sys.stderr)
    elif problems:
        print(f"answering without the {len(problems)} problem(s) above; `python -m bot check` lists them",
              file=sys.stderr)
    return engine


def check(knowledge: Path, out: TextIO, *, fix: bool = False, lint: bool = False, strict: bool = False) -> int:
    """Validate every knowledge file; print the folder first, each problem, and the coverage line last.

    With `fix`, citations whose quote is verbatim in another paragraph are renumbered first (the diff is printed);
    with `lint`, warnings follow the problems; they change the exit code only with `strict`.
    """
    from bot.knowledge.renumber import fixable, renumber  # check's own tools: `ask` starts without them
    from bot.lint import lint as lint_warnings

    print(f"knowledge: {knowledge.resolve()}", file=out)  # outside the deploy directory, the package's own copy
    result = load_knowledge(knowledge)
    if fix and (fixes := fixable(result.problems)):
        done = renumber(knowledge, fixes)
        out.write(done.diff)
        for line in done.skipped:
            print(line, file=out)
        print(f"renumbered {done.fixed} citation(s)", file=out)
        result = load_knowledge(knowledge)
    moved = [p for p in result.problems if p.fix is not None]
    for problem in result.problems:
        if problem.fix is None:
            print(problem, file=out)
            if problem.hint:
                print(f"    {problem.hint}", file=out)
    # An undeclared heading shifts every paragraph after it: renumbering would cite the wrong ones.
    if moved and any(LOOKS_LIKE_HEADING in p.message for p in result.problems):
        print(f"{len(moved)} citation(s) cite a paragraph that does not hold their quote: declare the headings "
              "above first, then check again", file=out)
    else:
        for line in _moved_report(moved):
            print(line, file=out)
    if result.kb is None:
        print("paragraphs covered: 0/0", file=out)
        if (broken := _model_problem()) is not None:
            print(broken, file=out)
        return EXIT_PROBLEMS
    kb = result.kb
    warnings = lint_warnings(kb) if lint else []
    for warning in warnings:
        print(warning, file=out)
    total = len(kb.article)
    cited = kb.cited_paragraphs()
    missing = [n for n in range(1, total + 1) if n not in cited]
    print(f"{kb.summary()}; {len(result.problems)} problem(s)", file=out)
    if missing:
        print("not cited by any entry: " + ", ".join(f"¶{n}" for n in missing), file=out)
    print(f"paragraphs covered: {total - len(missing)}/{total}", file=out)
    if (broken := _model_problem()) is not None:
        print(broken, file=out)
        return EXIT_MODEL
    return EXIT_PROBLEMS if result.problems or (strict and warnings) else EXIT_OK


def _model_problem() -> str | None:
    """What is wrong with the meaning model or the verifier, in one line, or None: `check` vouches for all the
    bot loads (without the verifier the bot answers from retrieval alone, and less well)."""
    from bot.engine.verifier import shared_verifier

    try:
        shared_embedder()
        shared_verifier()
    except ModelError as exc:
        return f"model error: {exc}"
    return None


MOVED_IN_FULL = 10  # more moved quotes than this are summarised: one inserted paragraph moves hundreds


def _moved_report(moved: list[Problem]) -> list[str]:
    """Citations whose quote is now in another paragraph: each one, or a summary per shift, and the --fix offer."""
    if not moved:
        return []
    if len(moved) <= MOVED_IN_FULL:
        lines = [str(p) for p in moved]
    else:
        shifts: dict[int, list[int]] = defaultdict(list)
        for p in moved:
            if p.fix is not None:
                shifts[p.fix.new - p.fix.old].append(p.fix.old)
        lines = [f"{len(moved)} citations cite a paragraph that no longer holds their quote; each quote is "
                 "verbatim in another paragraph (did the article change?):"]
        for delta, olds in sorted(shifts.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            way = "later" if delta > 0 else "earlier"
            lines.append(f"  {_ranges(olds)}: now {abs(delta)} paragraph{'s' if abs(delta) > 1 else ''} {way} "
                         f"({len(olds)} citation{'s' if len(olds) > 1 else ''})")
    lines.append("run `python -m bot check --fix` to renumber them (it shows each change as a diff)")
    return lines


def _ranges(numbers: list[int]) -> str:
    """¶5–¶9, ¶12 for [5, 6, 7, 8, 9, 12]."""
    runs: list[list[int]] = []
    for n in sorted(set(numbers)):
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(f"¶{r[0]}–¶{r[-1]}" if len(r) > 1 else f"¶{r[0]}" for r in runs)


def paragraph(knowledge: Path, number: str | None, out: TextIO) -> int:
    """Print one paragraph with its number, or all of them: the numbers citations use (headings don't count)."""
    article, problems = load_article(knowledge)
    if article is None:
        for problem in problems:
            print(problem, file=sys.stderr)
        return EXIT_PROBLEMS
    if number is None:
        section = None
        for para in article.paragraphs:
            if para.section != section:
                section = para.section
                print(f"[{section}]", file=out)
            print(f"¶{para.number}  {para.text}", file=out)
        return EXIT_OK
    wanted = paragraph_number(number)
    para = article.paragraph(wanted) if wanted is not None else None
    if para is None:
        print(f"there is no paragraph {number!r}: the article has ¶1 to ¶{len(article)}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"¶{para.number} ({para.section})\n{para.text}", file=out)
    return EXIT_OK


def ask(knowledge: Path, question: list[str], *, as_json: bool, explain: bool, out: TextIO,
        conversation: bool = False) -> int:
    """Answer one question, or one a line from stdin; with `conversation`, lines lean on the lines before
    them until an empty line, which starts a new conversation and gets no output."""
    engine = _engine_or_report(knowledge)
    if engine is None:
        return EXIT_PROBLEMS
    questions: Iterable[str] = [" ".join(question)]
    if question == ["-"]:
        questions = (line.rstrip("\r\n") for line in sys.stdin)
    talk = Conversation()
    for i, text in enumerate(questions):
        if conversation and not text.strip():
            talk = Conversation()
            continue
        answer = engine.ask(text, talk if conversation else None)
        talk = talk.add(answer, float(i))
        if as_json:
            out.write(json.dumps(answer.to_dict(), ensure_ascii=False) + "\n")
        else:
            out.write(format_answer(answer) + "\n")
            if explain:
                out.write(format_explain(engine, text) + "\n")
        out.flush()
    return EXIT_OK


def format_answer(answer: Answer) -> str:
    """Plain text for the console: the answer, its sources, and suggestions when it declined."""
    lines = [answer.text or ""]
    if answer.resolved:
        lines.insert(0, f"  (understood as: {answer.resolved})")
    lines += [f"  ¶{c.paragraph} — “{c.quote}”" for c in answer.citations]
    if answer.answered:
        lines.append(f"  (confidence {answer.confidence:.2f}, from {answer.source})")
    if answer.suggestions:
        lead = "You might also mean" if answer.answered else "You could ask"
        lines.append(f"  {lead}: " + " | ".join(answer.suggestions))
    return "\n".join(lines)


def format_explain(engine: Engine, text: str) -> str:
    lines = ["  prob   rank   words  meaning recall prec  type  source                     matched phrasing"]
    for c in engine.explain(text):
        m = c.match
        lines.append(f"  {c.probability:5.3f}  {c.rank:5.3f}  {m.score:5.3f}  {c.meaning:5.3f}  {m.recall:5.3f}  "
                     f"{m.precision:4.2f}  {'ok' if m.typed else 'no':>4}  {m.doc.source:<26} {m.key[:60]}")
    return "\n".join(lines)


def chat(knowledge: Path) -> int:
    """An interactive console over the engine, with readline history when available.

    The session is one reader's conversation: "who is he?" after "who is Scott Bessent?" leans on it,
    as in Discord, and is forgotten after the same ten minutes.
    """
    engine = _engine_or_report(knowledge)
    if engine is None:
        return EXIT_PROBLEMS
    history = Path.home() / ".story_bot_history"
    try:
        import readline

        if history.exists() and not history.is_file():  # a FIFO there would block reading and writing it
            print(f"{history} is not a regular file: the console keeps no history", file=sys.stderr)
            raise ImportError(history)

        with contextlib.suppress(OSError):
            readline.read_history_file(history)
    except ImportError:  # readline is missing on some platforms, or the history cannot be kept; the console works
        readline = None  # type: ignore[assignment]
    talk = Conversation()
    print(f"Ask me about: {engine.kb.story.title}\nEmpty line or Ctrl-D to quit.")
    try:
        while True:
            try:
                text = input("you> ").strip()
            except EOFError:
                print()
                break
            if not text or text.lower() in {"quit", "exit"}:
                break
            now = time.monotonic()
            answer = engine.ask(text, talk.current(now))
            talk = talk.current(now).add(answer, now)
            print(format_answer(answer))
    except KeyboardInterrupt:
        print()
    finally:
        if readline is not None:
            with contextlib.suppress(OSError):
                readline.write_history_file(history)
    return EXIT_OK
