"""Model files shipped in the package, each checked against its folder's manifest before use.

A missing, truncated or replaced file would otherwise be a traceback, or worse, be loaded and answer
differently without a word. Both shipped models (the static embedding in model/, the verifier in
verifier_model/) keep a manifest.json of each file's size and SHA-256, written by the tool that built them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.knowledge.loader import display_path
from bot.safefile import read_regular

MANIFEST_FILE = "manifest.json"
MAX_MODEL_BYTES = 512 * 1024 * 1024  # the largest shipped file is 20 MB
MAX_MANIFEST_BYTES = 64 * 1024


class ModelError(RuntimeError):
    """The shipped model files are missing, damaged or not the ones in the manifest; the message is one line."""


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_manifest(folder: Path, names: Sequence[str], **extra: Any) -> None:
    """Record the size and SHA-256 of each file (and `extra` facts about the model): run after building it."""
    files = {name: read_regular(folder / name, MAX_MODEL_BYTES) for name in names}
    manifest = {"files": {name: {"bytes": len(data), "sha256": file_hash(data)} for name, data in files.items()},
                **extra}
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def read_checked(folder: Path, names: Sequence[str], what: str) -> tuple[dict[str, bytes], dict[str, Any]]:
    """The files' bytes, each checked against the manifest, and the manifest; else ModelError naming `what`."""
    shown = display_path(folder)
    try:
        manifest = json.loads(read_regular(folder / MANIFEST_FILE, MAX_MANIFEST_BYTES))
        expected = {name: manifest["files"][name]["sha256"] for name in names}
    except OSError as exc:
        raise ModelError(f"cannot read the {what}'s manifest {shown}/{MANIFEST_FILE}: {exc.strerror or exc}") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise ModelError(f"the {what}'s manifest {shown}/{MANIFEST_FILE} is damaged ({exc!r})") from None
    files: dict[str, bytes] = {}
    for name in names:
        try:
            files[name] = read_regular(folder / name, MAX_MODEL_BYTES)
        except OSError as exc:
            raise ModelError(f"cannot read the {what} file {shown}/{name}: {exc.strerror or exc}") from None
        if file_hash(files[name]) != expected[name]:
            raise ModelError(f"the {what} file {shown}/{name} is not the one shipped (its checksum differs from "
                             f"{MANIFEST_FILE}): reinstall the bot") from None
    return files, manifest
