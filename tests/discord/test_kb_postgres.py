"""/kb gaps on a shared PostgreSQL database: a reader's wording joins an entry kept in kb_entries."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.config import Settings
from bot.store.postgres import PostgresStore
from tests.discord.conftest import ANSWER_CHANNEL, GUILD_ID, TOKEN, Harness, button_press
from tests.discord.test_kb import KNOWLEDGE, MOD_ROLE, MODERATOR_ID, as_who, h, interact, kb, record_misses, stored
from tests.test_store_postgres import ROOMMATE

__all__ = ["h"]  # a fixture used here by name
MISSED = "jivani vance dorm at school"


@pytest.fixture
def settings(tmp_path: Path, pg_url: str) -> Settings:
    knowledge = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, knowledge)
    store = PostgresStore(pg_url, salt="test")  # an entry another bot process added from Discord
    assert store.add_entry(knowledge, ROOMMATE, moderator_id=MODERATOR_ID).ok
    store.close()
    return Settings(token=TOKEN, answer_channels=frozenset({ANSWER_CHANNEL}), dev_guild_id=GUILD_ID,
                    knowledge_dir=knowledge, database_path=tmp_path / "data" / "bot.sqlite3", database_url=pg_url,
                    moderator_role_id=MOD_ROLE, hash_salt="test")


async def test_a_gap_becomes_a_phrasing_of_an_entry_kept_in_the_database(h: Harness, settings: Settings):
    entry_id = next(e.id for e in h.bot.engine.kb.qa if e.question == ROOMMATE.question)
    record_misses(h, MISSED, MISSED)
    assert not h.bot.engine.ask(MISSED).answered
    call = await interact(h, kb("gaps"))
    assert call.buttons[0]["label"] == f"1. Add as a phrasing of «{entry_id}»"

    call = await interact(h, as_who(button_press(stored(h)[-1], call.buttons[0]["custom_id"]), "manager"))
    assert call.content.startswith(f"Added “{MISSED}” as a phrasing of `{entry_id}` in the shared database")
    answer = h.bot.engine.ask(MISSED)
    assert answer.answered and answer.source == f"qa:{entry_id}" and answer.citations[0].paragraph == 2
    call = await interact(h, kb("history", id=entry_id))
    (embed,) = call.embeds
    assert [f["name"].split(" · ")[1] for f in embed["fields"]] == ["phrasing", "add"]
    assert f"+ {MISSED}" in embed["fields"][0]["value"]
