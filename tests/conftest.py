"""Fixtures for the whole suite."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """HOME points at a temporary folder for the whole run (and every child process it starts): the console's
    history file and anything else a test writes "in the home folder" never reach the real one."""
    home = tmp_path_factory.mktemp("home")
    before = os.environ.get("HOME")
    os.environ["HOME"] = str(home)
    yield
    if before is None:
        del os.environ["HOME"]
    else:
        os.environ["HOME"] = before
