"""Knowledge directories a test may break: a fresh copy per test."""

from __future__ import annotations

import shutil
from pathlib import Path

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "knowledge"  # small and frozen


def copy_knowledge(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(source, target)
    return target
