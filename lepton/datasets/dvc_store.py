"""A DVC repository without git, used through DVC's Python API.

`dvc.repo.Repo` is internal API (pinned in constraints.txt). A Repo object is opened per
call and never shared, because DVC's repo lock is not thread-safe.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import yaml


class DvcStore:
    def __init__(self, repo_dir: Path, remote_url: str, remote_name: str = "storage"):
        self.repo_dir = Path(repo_dir).resolve()
        self.remote_url = remote_url
        self.remote_name = remote_name

    def _open(self):
        from dvc.repo import Repo

        if not (self.repo_dir / ".dvc").exists():
            self.repo_dir.mkdir(parents=True, exist_ok=True)
            with contextlib.redirect_stdout(io.StringIO()):
                Repo.init(str(self.repo_dir), no_scm=True)
        repo = Repo(str(self.repo_dir))
        with repo.config.edit() as conf:
            conf["remote"][self.remote_name] = {"url": self.remote_url}
            conf["core"]["remote"] = self.remote_name
            conf["core"]["analytics"] = False
        return Repo(str(self.repo_dir))

    def add_and_push(self, path: Path) -> dict:
        """Tracks `path` (inside the repo) and pushes it; returns DVC's own record of it."""
        path = Path(path).resolve()
        repo = self._open()
        with contextlib.redirect_stdout(io.StringIO()):
            repo.add(str(path))
            pushed = repo.push()
        dvc_file = path.with_name(path.name + ".dvc")
        out = yaml.safe_load(dvc_file.read_text())["outs"][0]
        return {"md5": out["md5"], "size": out.get("size"), "nfiles": out.get("nfiles"),
                "pushed": pushed, "dvc_file": str(dvc_file)}
