"""A real headless browser for the review pack.

A steward reads the pack in a browser, so the proof that it renders (pictures decoded, sections
laid out, nothing fetched from outside) has to come from one, not from parsing the HTML. This
drives the system's Chromium through its command line only: no driver, no extra package, nothing
that would need the network. Kept free of dagster so the CLI and the tests can use it alone.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

ENV_VAR = "LEPTON_CHROMIUM"
CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT_S = 120

# Every flag is there to keep a one-shot run hermetic and quiet: no sandbox (containers and CI run
# as root), no GPU, no profile shared with a person's browser, and no background traffic, because
# the pack must render with no network at all. Debian's /usr/bin/chromium wrapper decides whether
# to add --disable-dev-shm-usage with a shell test that breaks when /dev/shm has more than one
# mount (as in some containers), so it is passed here unconditionally; a small /dev/shm would
# otherwise crash the renderer.
BASE_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1",
    "--no-default-browser-check", "--disable-extensions",
)
# Virtual time lets the page's onload script (which marks whether every picture decoded) finish
# before Chromium captures, without a wall-clock sleep.
VIRTUAL_TIME_MS = 5000
# Chromium logs D-Bus connection failures by the dozen when no system bus exists (containers);
# they say nothing about the page, so they are left out of the tail an error reports.
_NOISE = ("dbus/", "Failed to connect to the bus", "unexpected operator")


class BrowserUnavailable(RuntimeError):
    """No Chromium to run: the pack cannot be checked in a browser on this machine."""


class BrowserError(RuntimeError):
    """Chromium ran but did not produce what was asked of it."""


def chromium_path() -> str:
    """An explicit LEPTON_CHROMIUM wins, so CI or a person can point at a particular build."""
    explicit = os.environ.get(ENV_VAR)
    if explicit:
        found = shutil.which(explicit)
        if found is None:
            raise BrowserUnavailable(f"{ENV_VAR}={explicit!r} is not an executable file or a command on PATH")
        return found
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise BrowserUnavailable(
        f"no headless browser: none of {', '.join(CANDIDATES)} is on PATH and {ENV_VAR} is not set. "
        f"Install Chromium (Debian/Ubuntu: apt-get install chromium) or set {ENV_VAR} to its executable.")


def _url(html: Path) -> str:
    html = Path(html).resolve()
    if not html.is_file():
        raise FileNotFoundError(f"no HTML file to open: {html}")
    return html.as_uri()


def _tail(stderr: str, lines: int = 15) -> str:
    kept = [ln for ln in stderr.splitlines() if ln.strip() and not any(n in ln for n in _NOISE)]
    return "\n".join(kept[-lines:]) or "(nothing on stderr besides D-Bus noise)"


def _run(extra: list[str], html: Path, width: int, height: int, timeout: float) -> subprocess.CompletedProcess:
    url = _url(html)
    exe = chromium_path()
    # A fresh profile per run: two runs at once (parallel tests, two engineers) must not fight over
    # one profile's lock, and nothing a person's own browser holds can leak into the capture.
    with tempfile.TemporaryDirectory(prefix="lepton-chromium-", ignore_cleanup_errors=True) as profile:
        cmd = [exe, *BASE_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
               f"--virtual-time-budget={VIRTUAL_TIME_MS}", *extra, url]
        # Its own process group, so a hung browser is killed with all its helper processes.
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True, env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": "disabled:"})
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            raise BrowserError(f"chromium did not finish rendering {html} within {timeout:.0f} s:\n{_tail(err)}") from None
    if proc.returncode != 0:
        raise BrowserError(f"chromium failed (exit {proc.returncode}) rendering {html}:\n{_tail(err)}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def screenshot(html: Path, png: Path, width: int = 1280, height: int = 2400, timeout: float = TIMEOUT_S) -> Path:
    """The viewport, not the whole page: Chromium's command line cannot capture beyond it, so pick
    a height that holds what should be seen."""
    png = Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)  # a stale capture must not pass for this one
    result = _run([f"--screenshot={png}"], html, width, height, timeout)
    if not png.is_file() or png.stat().st_size == 0:
        raise BrowserError(f"chromium exited 0 but wrote no screenshot of {html} to {png}:\n{_tail(result.stderr)}")
    return png


def dump_dom(html: Path, width: int = 1280, height: int = 2400, timeout: float = TIMEOUT_S) -> str:
    """The DOM after scripts ran, which is what shows whether the pictures decoded."""
    result = _run(["--dump-dom"], html, width, height, timeout)
    if "<html" not in result.stdout.lower():
        raise BrowserError(f"chromium printed no DOM for {html}:\n{_tail(result.stderr)}")
    return result.stdout
