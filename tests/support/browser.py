"""Headless Chromium for the tests that look at a page: the DOM after its scripts ran, and a screenshot."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
"""Where screenshots are kept for a person to look at after a run (gitignored)."""


def render(page: Path, out: Path, name: str = "page.png", height: int = 1400) -> tuple[str, Path]:
    """The DOM of ``page`` after scripts ran (``--dump-dom``), and a screenshot of its first ``height`` pixels
    (1100 wide) as ``out/name``."""
    assert CHROMIUM, "chromium is needed (scripts/install-deps installs it)"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", f"--window-size=1100,{height}"]
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run([CHROMIUM, *flags, f"--user-data-dir={profile}/a", "--virtual-time-budget=5000",
                              "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
        shot = out / name
        subprocess.run([CHROMIUM, *flags, f"--user-data-dir={profile}/b", f"--screenshot={shot}", page.as_uri()],
                       capture_output=True, timeout=120, check=True)
    return dom.stdout, shot
