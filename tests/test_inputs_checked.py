"""Every input from disk is checked before use: special files are refused, never opened to block."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.config import Settings, SettingsError
from bot.safefile import NotRegularFile, TooLarge, read_regular
from tests.test_editor_files import run_with_timeout


def test_read_regular_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")

    def read_pipe() -> str:
        try:
            read_regular(tmp_path / "pipe", 100)
        except NotRegularFile as exc:
            return exc.strerror
        return "read"

    assert run_with_timeout(read_pipe) == "is a FIFO, not a regular file"
    with pytest.raises(NotRegularFile, match="is a directory"):
        read_regular(tmp_path, 100)
    (tmp_path / "big").write_bytes(b"x" * 101)
    with pytest.raises(TooLarge):
        read_regular(tmp_path / "big", 100)
    assert read_regular(tmp_path / "big", 101) == b"x" * 101


def test_a_fifo_named_env_is_a_one_line_configuration_error(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / ".env")

    def settings() -> str:
        try:
            Settings.from_env({"STORY_BOT_HOME": str(tmp_path)}, env_file=tmp_path / ".env")
        except SettingsError as exc:
            return str(exc)
        return "accepted"

    assert run_with_timeout(settings) == f"cannot read {tmp_path / '.env'}: is a FIFO, not a regular file"
