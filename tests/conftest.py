"""Fixtures for the whole suite."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from bot.config import DEFAULT_KNOWLEDGE_DIR
from bot.engine import Engine, load_engine
from tests.knowledge_dirs import FIXTURE, SECOND_STORY
from tests.pgserver import REQUIRE_ENV, PostgresServer, unavailable

_names = iter(range(1_000_000))


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


@pytest.fixture(scope="session")
def engine() -> Engine:
    """The engine over tests/fixtures/knowledge, built once: an Engine is immutable. (tests/test_engine.py
    overrides it with the story's.)"""
    built, problems = load_engine(FIXTURE)
    assert built is not None, problems
    return built


@pytest.fixture(scope="session")
def story_engine() -> Engine:
    """The engine over the shipped story (knowledge/), built once for every module that asks it: indexing the
    story is most of a start, and an Engine is immutable."""
    built, problems = load_engine(DEFAULT_KNOWLEDGE_DIR)
    assert built is not None, problems
    return built


@pytest.fixture(scope="session")
def second_engine() -> Engine:
    """The engine over the second, fictional story (tests/fixtures/stories/harbourline), built once."""
    built, problems = load_engine(SECOND_STORY)
    assert built is not None, problems
    return built


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL for the session: skipped where it cannot run, unless STORY_BOT_REQUIRE_PG is set."""
    why = unavailable()
    if why is not None:
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{REQUIRE_ENV} is set but PostgreSQL cannot run here: {why}")
        pytest.skip(why)
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    """A fresh database for each test."""
    return pg_server.database(f"test_{os.getpid()}_{next(_names)}")
