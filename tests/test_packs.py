"""Story packs: which stories the bot serves, picking one on the command line, and starting a new one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Settings, SettingsError
from bot.knowledge import load_knowledge
from bot.knowledge.packs import MAIN_STORY, PackError, find_packs, new_story
from tests.knowledge_dirs import SECOND_STORY

ROOT = Path(__file__).resolve().parents[1]
HARBOURLINE = SECOND_STORY


@pytest.fixture
def stories(tmp_path: Path) -> Path:
    """A STORIES_DIR with the fictional harbourline story, and a notes folder that is no story."""
    folder = tmp_path / "stories"
    shutil.copytree(HARBOURLINE, folder / "harbourline")
    (folder / "notes").mkdir()
    (folder / "README.md").write_text("packs live here\n")
    return folder


def test_the_knowledge_folder_is_main_and_each_story_folder_its_slug(stories: Path) -> None:
    packs = find_packs(ROOT / "knowledge", stories)
    assert list(packs) == [MAIN_STORY, "harbourline"]  # `notes` holds no article: not a story
    assert packs["harbourline"].directory == stories / "harbourline"
    assert list(find_packs(ROOT / "knowledge", None)) == [MAIN_STORY]


@pytest.mark.parametrize("name", ["Harbour Line", "main", "-x"])
def test_a_folder_that_cannot_be_a_story_stops_the_start(stories: Path, name: str) -> None:
    shutil.copytree(HARBOURLINE, stories / name)
    with pytest.raises(PackError, match=name.strip("-")):
        find_packs(ROOT / "knowledge", stories)


def test_default_story_must_be_one_of_the_stories(stories: Path) -> None:
    settings = Settings.from_env({"STORIES_DIR": str(stories), "DEFAULT_STORY": "harbourline"})
    assert settings.packs()["harbourline"].directory == stories / "harbourline"
    with pytest.raises(SettingsError, match="the stories are main, harbourline"):
        Settings.from_env({"STORIES_DIR": str(stories), "DEFAULT_STORY": "elsewhere"}).packs()
    with pytest.raises(SettingsError, match="DEFAULT_STORY"):
        Settings.from_env({"DEFAULT_STORY": "Not A Slug"})


def test_ask_answers_from_the_story_named(stories: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STORIES_DIR", str(stories))
    assert main(["ask", "--json", "--story", "harbourline", "How long is the line?"]) == 0
    reply = json.loads(capsys.readouterr().out)
    assert reply["answered"] and "14" in reply["answer"]
    assert main(["ask", "--story", "nowhere", "How long is the line?"]) == 2
    assert "no story 'nowhere'" in capsys.readouterr().err


def test_check_checks_every_story_and_fails_for_any(stories: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STORIES_DIR", str(stories))
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "paragraphs covered: 23/23" in out and out.rstrip().endswith("paragraphs covered: 18/18")
    (stories / "harbourline" / "people.yaml").unlink()
    assert main(["check"]) == 1
    assert "people.yaml:0: required file missing" in capsys.readouterr().out
    assert main(["check", "--story", MAIN_STORY]) == 0  # one story named: only that one


def test_new_story_writes_a_pack_that_check_accepts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STORIES_DIR", str(tmp_path / "stories"))
    assert main(["new-story", "harbour-line", "--article", str(HARBOURLINE / "article.txt")]) == 0
    pack = tmp_path / "stories" / "harbour-line"
    assert "next:" in capsys.readouterr().out
    result = load_knowledge(pack)
    assert result.problems == () and result.kb is not None
    # The two headings were found and declared, so the paragraphs are numbered as the finished pack's are.
    assert result.kb.story.headings == ("Route and Schedule", "Costs and Critics")
    assert len(result.kb.article) == 18
    assert main(["new-story", "harbour-line", "--article", str(HARBOURLINE / "article.txt")]) == 2  # exists
    with pytest.raises(PackError, match="no text"):
        empty = tmp_path / "empty.txt"
        empty.write_text("\n\n")
        new_story(tmp_path / "other", empty)


def test_a_story_says_its_language_and_a_bad_tag_is_a_problem(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    shutil.copytree(SECOND_STORY, pack)
    assert load_knowledge(pack).kb.story.language == "en"  # not written: English
    story = pack / "story.yaml"
    story.write_text(story.read_text() + "language: fr-CA\n")
    assert load_knowledge(pack).kb.story.language == "fr-CA"
    story.write_text(story.read_text().replace("language: fr-CA", "language: French please"))
    (problem,) = load_knowledge(pack).problems
    assert problem.path.endswith("story.yaml") and "not a language tag" in problem.message
    assert problem.line == len(story.read_text().splitlines())  # the line of the key
