"""The shipped model is checked against its manifest at load: a damaged model is one line and exit code 4."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from bot import cli
from bot.engine import semantic
from bot.engine.semantic import MANIFEST_FILE, MODEL_DIR, Embedder, ModelError, write_manifest
from tests.knowledge_dirs import FIXTURE


@pytest.fixture
def model(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(MODEL_DIR, folder)
    return folder


def test_the_shipped_model_matches_its_manifest() -> None:
    assert Embedder(MODEL_DIR).table.shape == tuple(json.loads((MODEL_DIR / MANIFEST_FILE).read_text())["shape"])


@pytest.mark.parametrize("damage", ["missing", "truncated", "fifo", "no manifest"])
def test_a_damaged_model_file_is_one_line(model: Path, damage: str) -> None:
    weights = model / "model.safetensors"
    if damage == "missing":
        weights.unlink()
    elif damage == "truncated":
        weights.write_bytes(weights.read_bytes()[:1000])
    elif damage == "fifo":
        import os

        weights.unlink()
        os.mkfifo(weights)
    else:
        (model / MANIFEST_FILE).unlink()
    with pytest.raises(ModelError) as caught:
        Embedder(model)
    assert "\n" not in str(caught.value) and str(model.name) in str(caught.value)


@pytest.mark.parametrize("damage", ["nan", "dimension"])
def test_a_model_with_a_matching_manifest_is_still_checked(model: Path, damage: str) -> None:
    """Even rebuilt with a manifest to match, NaN values or a table of the wrong shape are refused."""
    weights = Embedder(MODEL_DIR).table.copy()
    if damage == "nan":
        weights[5] = np.nan
    else:
        weights = weights[:, :100]
    save_file({"embeddings": weights}, str(model / "model.safetensors"))
    write_manifest(model)
    with pytest.raises(ModelError, match=r"not finite|shape \(29525, 100\)"):
        Embedder(model)


@pytest.mark.parametrize("command", [["check"], ["ask", "who is jivani?"]])
def test_the_cli_says_so_in_one_line_with_exit_code_4(model: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    (model / "tokenizer.json").write_text("{}")
    monkeypatch.setattr(semantic, "MODEL_DIR", model)
    monkeypatch.setattr(semantic, "_SHARED", None)
    assert cli.main([*command, "--knowledge", str(FIXTURE)]) == cli.EXIT_MODEL
    out, err = capsys.readouterr()
    said = [line for line in (out + err).splitlines() if line.startswith("model error:")]
    assert len(said) == 1 and "tokenizer.json" in said[0] and "Traceback" not in err


def test_run_checks_the_model_before_contacting_discord(model: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from bot.discord import runner

    monkeypatch.setenv("STORY_BOT_HOME", str(tmp_path))  # run keeps a salt file beside the database

    (model / "model.safetensors").unlink()
    monkeypatch.setattr(semantic, "MODEL_DIR", model)
    monkeypatch.setattr(semantic, "_SHARED", None)
    monkeypatch.setenv("DISCORD_TOKEN", "a-token")
    monkeypatch.setattr(runner, "run", lambda settings: pytest.fail("Discord was contacted"))
    assert cli.main(["run"]) == cli.EXIT_MODEL
    assert capsys.readouterr().err.startswith("model error: cannot read the model file")
