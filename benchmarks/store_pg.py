"""Many processes on one PostgreSQL: nothing lost, nothing doubled, every audit row, edits heard in seconds.

    python -m benchmarks.store_pg [--processes 8] [--questions 200] [--editors 2] [--edits 50]
                                  [--notifies 10] [--out benchmarks/store-results.md]

A throwaway server (tests/pgserver.py) in a temporary directory. Each process is a separate Python
process with its own PostgresStore, as bot processes on several machines would be.
1. Recording: N processes each record Q questions (and a vote on each) through the write queue and
   close (which flushes); the tables must then hold N×Q questions and N×Q votes.
2. Editing: E processes each run `--edits` rounds of add, and on every second round remove the entry
   added the round before, through the same store methods /kb add and /kb remove use; the shared
   entries must be exactly the ones added and not removed, each once, with one audit row per edit.
3. Hearing: one store adds an entry; another process's listener hears the NOTIFY and reloads its
   knowledge (files + shared entries, validated) until its engine answers the new question.
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from bot.knowledge.editor import NewEntry
from bot.store.postgres import PostgresStore
from bot.watch import KnowledgeReloader
from tests.pgserver import PostgresServer

ROOT = Path(__file__).resolve().parents[1]
KNOWLEDGE = ROOT / "tests" / "fixtures" / "knowledge"
QUOTE = "former university roommate of U.S. Vice-President JD Vance"


def _record(url: str, worker: int, n: int) -> None:
    store = PostgresStore(url, salt="bench")
    for i in range(n):
        ref = store.record_question(question=f"worker {worker} question {i}", answered=i % 2 == 0, source=None,
                                    confidence=0.5, guild_id=1, channel_id=2, user_id=worker * 100_000 + i)
        store.record_feedback(ref, helpful=i % 3 == 0, user_id=worker * 100_000 + i)
    store.close()


def _entry(worker: int, i: int) -> NewEntry:
    return NewEntry(f"Benchmark question {i} asked by editor {worker}?", (), "A benchmark answer.", 2, QUOTE)


def _edit(url: str, knowledge: str, worker: int, rounds: int, out: multiprocessing.Queue) -> None:
    store = PostgresStore(url, salt="bench")
    kept, added, removed = [], 0, 0
    previous = None
    for i in range(rounds):
        result = store.add_entry(Path(knowledge), _entry(worker, i), moderator_id=worker)
        assert result.ok, result.problems
        added += 1
        if i % 2 == 1 and previous is not None:
            gone = store.remove_entry(Path(knowledge), previous, moderator_id=worker, detail="")
            assert gone.ok, gone.problems
            removed += 1
            kept.remove(previous)
        kept.append(result.entry_id)
        previous = result.entry_id
    store.close()
    out.put((kept, added, removed))


def recording(url: str, processes: int, questions: int) -> dict:
    ctx = multiprocessing.get_context("spawn")
    started = time.monotonic()
    procs = [ctx.Process(target=_record, args=(url, w, questions)) for w in range(processes)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    elapsed = time.monotonic() - started
    with psycopg.connect(url) as conn:
        (rows,) = conn.execute("SELECT COUNT(*) FROM questions").fetchone()
        (votes,) = conn.execute("SELECT COUNT(*) FROM feedback").fetchone()
    expected = processes * questions
    return {"expected": expected, "rows": rows, "votes": votes, "lost": expected - rows,
            "failed": sum(p.exitcode != 0 for p in procs), "seconds": elapsed}


def editing(url: str, knowledge: Path, editors: int, rounds: int) -> dict:
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue = ctx.Queue()
    started = time.monotonic()
    procs = [ctx.Process(target=_edit, args=(url, str(knowledge), w, rounds, out)) for w in range(1, editors + 1)]
    for p in procs:
        p.start()
    reports = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.monotonic() - started
    kept = sorted(i for r in reports for i in r[0])
    adds, removes = sum(r[1] for r in reports), sum(r[2] for r in reports)
    with psycopg.connect(url) as conn:
        ids = [i for (i,) in conn.execute("SELECT id FROM kb_entries")]
        audit = dict(conn.execute("SELECT action, COUNT(*) FROM edits WHERE status = 'done' GROUP BY action"))
    return {"edits": adds + removes, "expected_entries": len(kept), "entries": len(ids),
            "duplicated": len(ids) - len(set(ids)), "lost": len(set(kept) - set(ids)),
            "unexpected": len(set(ids) - set(kept)), "audit_add": audit.get("add", 0), "adds": adds,
            "audit_remove": audit.get("remove", 0), "removes": removes, "seconds": elapsed,
            "failed": sum(p.exitcode != 0 for p in procs)}


def hearing(url: str, knowledge: Path, rounds: int) -> dict:
    writer, reader = PostgresStore(url, salt="bench"), PostgresStore(url, salt="bench")
    engines: list = []
    reloader = KnowledgeReloader(knowledge, engines.append, reader.extra_knowledge)
    heard = threading.Event()
    reader.listen(heard.set)
    time.sleep(0.5)
    notify, applied = [], []
    for i in range(rounds):
        heard.clear()
        entry = NewEntry(f"Which room did editor number {i} share with the vice-president?", (), "A room.", 2, QUOTE)
        started = time.monotonic()
        result = writer.add_entry(knowledge, entry, moderator_id=1)
        assert result.ok, result.problems
        assert heard.wait(10), "no NOTIFY within 10 s"
        notify.append(time.monotonic() - started)
        engine, problems = reloader.load()
        assert engine is not None and not problems, problems
        assert engine.ask(entry.question).source == f"qa:{result.entry_id}"
        applied.append(time.monotonic() - started)
    writer.close()
    reader.close()
    return {"rounds": rounds, "notify_p50": statistics.median(notify), "notify_max": max(notify),
            "applied_p50": statistics.median(applied), "applied_max": max(applied)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--processes", type=int, default=8)
    ap.add_argument("--questions", type=int, default=200)
    ap.add_argument("--editors", type=int, default=2)
    ap.add_argument("--edits", type=int, default=50)
    ap.add_argument("--notifies", type=int, default=10)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "store-results.md")
    args = ap.parse_args()

    server = PostgresServer().start()
    work = Path(tempfile.mkdtemp(prefix="story-bot-bench-"))
    try:
        knowledge = work / "knowledge"
        shutil.copytree(KNOWLEDGE, knowledge)
        rec = recording(server.database("recording"), args.processes, args.questions)
        print("recording", rec, flush=True)
        edit = editing(server.database("editing"), knowledge, args.editors, args.edits)
        print("editing", edit, flush=True)
        hear = hearing(server.database("hearing"), knowledge, args.notifies)
        print("hearing", hear, flush=True)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    ok = (rec["lost"] == 0 and rec["votes"] == rec["expected"] and not rec["failed"]
          and edit["lost"] == edit["duplicated"] == edit["unexpected"] == edit["failed"] == 0
          and edit["audit_add"] == edit["adds"] and edit["audit_remove"] == edit["removes"]
          and hear["applied_max"] < 5.0)
    command = "python -m benchmarks.store_pg " + " ".join(sys.argv[1:])
    lines = [
        "# PostgreSQL store: many processes, one database",
        "",
        f"`{command.strip()}` on {platform.platform()}, {multiprocessing.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, PostgreSQL from {server.bin}, {datetime.now(UTC):%Y-%m-%d}.",
        "A throwaway server on a unix socket (fsync off); each worker is its own process with its own store.",
        "",
        "| measure | result |",
        "|---|---|",
        f"| {args.processes} processes × {args.questions} recorded questions (+ a vote each) | "
        f"{rec['rows']} of {rec['expected']} questions, {rec['votes']} votes, **{rec['lost']} lost**, "
        f"{rec['seconds']:.1f} s |",
        f"| {args.editors} processes × {args.edits} rounds of add (and remove the previous every second round) | "
        f"{edit['edits']} edits; {edit['entries']} entries of {edit['expected_entries']} expected, "
        f"**{edit['lost']} lost, {edit['duplicated']} duplicated**, {edit['unexpected']} unexpected; audit rows: "
        f"{edit['audit_add']}/{edit['adds']} adds, {edit['audit_remove']}/{edit['removes']} removes; "
        f"{edit['seconds']:.1f} s |",
        f"| an entry added through one store, heard by another process (NOTIFY), {hear['rounds']} times | "
        f"heard p50 {hear['notify_p50'] * 1000:.0f} ms, max {hear['notify_max'] * 1000:.0f} ms |",
        f"| …and applied there (reload: files + shared entries, validated, until the engine answers it) | "
        f"p50 {hear['applied_p50'] * 1000:.0f} ms, max {hear['applied_max'] * 1000:.0f} ms (target < 5 s) |",
        "",
        f"Targets (0 lost, 0 duplicated, every audit row, applied within 5 s): **{'met' if ok else 'NOT met'}**.",
        "",
    ]
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
