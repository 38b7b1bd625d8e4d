"""What the deployment files promise, checked without Docker (the development machine has none)."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_compose_serves_the_checkouts_knowledge_not_a_volume_filled_once() -> None:
    """A named volume is filled from the image only when created: a new image's knowledge never reached it."""
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    mounts = dict(reversed(m.split(":")[:2]) for m in compose["services"]["bot"]["volumes"])
    assert mounts["/srv/story-bot/knowledge"] == "./knowledge"
    assert "knowledge" not in compose.get("volumes", {})
