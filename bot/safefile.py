"""Reading a file from disk without trusting what is at the path: the one way the bot opens its inputs.

Opening a FIFO for reading blocks until something writes to it, so a FIFO named `.env`, `qa.yaml`, a
model file or a cached vector file hung `check`, `ask` and `run`. Here the path is opened non-blocking
(which returns at once even for a FIFO), the open file itself is checked to be a regular file (so it
cannot be swapped between a check and the open), and at most `limit` bytes are read.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device", stat.S_IFDIR: "a directory"}


class NotRegularFile(OSError):
    """The path names a FIFO, socket, device or directory: it was not read."""


class TooLarge(OSError):
    """The file holds more than the reader's limit: it was not read. `size` is its size when known."""

    size: int | None = None


def kind_of(mode: int) -> str:
    """What a file mode says the path is, in words ("a FIFO")."""
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def read_regular(path: Path | str, limit: int) -> bytes:
    """The bytes of the regular file at `path` (a symlink to one is fine), at most `limit` of them.

    Raises FileNotFoundError and the other OSErrors of opening; NotRegularFile for anything but a regular
    file (never blocking on it); TooLarge past `limit`. Their strerror is a short reason for one line.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a socket, or a FIFO with nobody at the other end on some systems
            raise NotRegularFile(errno.EINVAL, "not a regular file", str(path)) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile(errno.EINVAL, f"is {kind_of(info.st_mode)}, not a regular file", str(path))
        if info.st_size > limit:
            too_large = TooLarge(errno.EFBIG, f"is larger than {limit:,} bytes ({info.st_size:,})", str(path))
            too_large.size = info.st_size
            raise too_large
        chunks: list[bytes] = []
        size = 0
        while size <= limit and (chunk := os.read(fd, min(1 << 20, limit + 1 - size))):
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:  # it grew since fstat
            raise TooLarge(errno.EFBIG, f"is larger than {limit:,} bytes", str(path))
        return b"".join(chunks)
    finally:
        os.close(fd)
