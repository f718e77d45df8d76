"""The real Label Studio server the tests talk to: the one `.ci/run` started (LABEL_STUDIO_URL,
LS_HOME and LS_PORT in the environment), or one this test session starts and stops with
scripts/label-studio.sh. Tests that need an outage stop and restart it through here."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "label-studio.sh"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, home: Path, port: int, owned: bool):
        self.home, self.port, self.owned = Path(home), port, owned
        self.url = f"http://127.0.0.1:{port}"

    @property
    def token(self) -> str:
        return (self.home / "token").read_text().strip()

    def _script(self, action: str) -> float:
        t0 = time.monotonic()
        env = {**os.environ, "LS_HOME": str(self.home), "LS_PORT": str(self.port)}
        r = subprocess.run(["bash", str(SCRIPT), action], env=env, capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise RuntimeError(f"label-studio.sh {action} failed: {r.stderr[-2000:]}")
        return time.monotonic() - t0

    def start(self) -> float:
        return self._script("start")

    def stop(self) -> float:
        return self._script("stop")

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    @classmethod
    def for_session(cls, tmp: Path, running: dict) -> "Server":
        """`running`: LABEL_STUDIO_URL, LS_HOME and LS_PORT of a server the caller started."""
        if running.get("LABEL_STUDIO_URL") and running.get("LS_HOME"):
            srv = cls(Path(running["LS_HOME"]), int(running.get("LS_PORT", "8089")), owned=False)
            if not srv.healthy():
                srv.start()
            return srv
        srv = cls(tmp, _free_port(), owned=True)
        srv.start()
        return srv
