"""Which entries of the knowledge directory are knowledge files, and whether they are safe to open.

One rule, the loader's `is_knowledge_file`, for the loader, the editor (which files it copies to validate
an edit) and the watcher (which changes mean a reload). Editors' lock, backup and swap files (`.#qa.yaml`,
`qa.yaml~`, `#qa.yaml#`, `.qa.yaml.swp`, vim's `4913`), our edit lock and our temporaries are never knowledge.

Opening a FIFO for reading blocks until something writes to it, so a FIFO named `qa.yaml` would hang
whoever opens it: the editor while it holds the edit lock, or a reload thread that shutdown then waits
for. `stat` never blocks, so every knowledge file is stat'ed first and refused unless it is a regular
file (a symlink to one is fine).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from bot.knowledge.loader import Problem, display_path, is_knowledge_file

__all__ = ["is_knowledge_file", "unreadable_files"]  # the loader's rule, here for the editor and the watcher

_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device", stat.S_IFDIR: "a directory"}


def unreadable_files(directory: Path | str) -> tuple[Problem, ...]:
    """Knowledge files that must not be opened: FIFOs, sockets, devices, directories, symlink loops."""
    root = Path(directory)
    try:
        names = sorted(e.name for e in os.scandir(root) if is_knowledge_file(e.name))
    except OSError:
        return ()  # no directory to list: the loader says so in its own words
    problems = []
    for name in names:
        path = root / name
        shown = display_path(root) + os.sep + name  # display_path(path) itself fails on a symlink loop
        try:
            mode = os.stat(path).st_mode  # follows symlinks; never blocks, unlike open()
        except FileNotFoundError:
            continue  # a dangling symlink: the loader reports the file it cannot read
        except OSError as exc:
            problems.append(Problem(shown, 0, f"cannot be read: {exc.strerror or exc}"))
            continue
        if not stat.S_ISREG(mode):
            kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
            problems.append(Problem(shown, 0, f"is {kind}, not a file: it was not opened; "
                                                           "replace it with a regular file or remove it"))
    return tuple(problems)
