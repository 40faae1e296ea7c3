from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_WARC = ROOT / "examples" / "example.warc.gz"
SHARED = Path(os.environ.get("MEGAMATH_SHARED", ROOT.parent / "shared"))
SHARED_WARC = SHARED / "data" / "warc"


@pytest.fixture
def shared_warc() -> Path:
    if not SHARED_WARC.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_WARC} (set MEGAMATH_SHARED to its folder)")
    return SHARED_WARC


def run_cli(*args: str, timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the real `megamath` command line in a child process (``env``: variables to add)."""
    return subprocess.run(
        [sys.executable, "-m", "megamath.cli", *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT, env={**os.environ, **(env or {})},
    )
