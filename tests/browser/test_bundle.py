"""The committed bundle web/widget.js is what web/src builds to, and stays small."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .conftest import WEB


def test_committed_bundle_is_built_from_source(node_modules: Path) -> None:
    """Fails when web/src changed without `npm run build` in web/."""
    node = shutil.which("node")
    assert node, "node is needed to check the bundle"
    result = subprocess.run([node, "build.mjs", "--check"], cwd=WEB, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_bundle_is_small() -> None:
    assert (WEB / "widget.js").stat().st_size < 100_000  # cheap to embed on any page
