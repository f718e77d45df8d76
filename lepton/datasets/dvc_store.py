"""A DVC repository used through DVC's Python API, with or without git.

`dvc.repo.Repo` is internal API (pinned in requirements.lock). A Repo object is opened
per call and never shared, because DVC's repo lock is not thread-safe. Without git DVC
cannot read an old revision's .dvc file, so any version is restored from its id alone:
the id is DVC's own directory hash, and a stub .dvc file naming it is enough for
`dvc pull` to fetch that exact directory from the remote.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import yaml

from lepton.failpoints import failpoint

DIR_HASH = re.compile(r"[0-9a-f]{32}")  # what DVC names a directory version by (md5, without ".dir")


class DvcStore:
    def __init__(self, repo_dir: Path, remote_url: str, remote_name: str = "storage", use_git: bool = False):
        self.repo_dir = Path(repo_dir).resolve()
        self.remote_url = remote_url
        self.remote_name = remote_name
        self.use_git = use_git

    def _open(self):
        from dvc.repo import Repo

        logging.getLogger("dvc").setLevel(logging.WARNING)  # DVC's git hints are noise here

        if not (self.repo_dir / ".dvc").exists():
            self.repo_dir.mkdir(parents=True, exist_ok=True)
            if self.use_git and not (self.repo_dir / ".git").exists():
                subprocess.run(["git", "init", "-q", str(self.repo_dir)], check=True)
            with contextlib.redirect_stdout(io.StringIO()):
                Repo.init(str(self.repo_dir), no_scm=not self.use_git)
        repo = Repo(str(self.repo_dir))
        with repo.config.edit() as conf:
            conf["remote"][self.remote_name] = {"url": self.remote_url}
            conf["core"]["remote"] = self.remote_name
            conf["core"]["analytics"] = False
        return Repo(str(self.repo_dir))

    def install_pipeline_file(self, dvc_yaml: Path) -> None:
        """Puts the project's dvc.yaml (artifacts, metrics, plots) at the repository root,
        so `dvc metrics show`, `dvc plots show` and `dvc artifacts get` work there."""
        self._open()
        target = self.repo_dir / "dvc.yaml"
        if not target.exists() or target.read_bytes() != Path(dvc_yaml).read_bytes():
            shutil.copyfile(dvc_yaml, target)

    def add_and_push(self, path: Path) -> dict:
        """Tracks `path` (inside the repo) and pushes it; returns DVC's own record of it."""
        path = Path(path).resolve()
        repo = self._open()
        with contextlib.redirect_stdout(io.StringIO()):
            repo.add(str(path))
            failpoint(f"dvc.added:{path.name}")
            pushed = repo.push(targets=[str(path.with_name(path.name + ".dvc"))])
            failpoint(f"dvc.pushed:{path.name}")
        dvc_file = path.with_name(path.name + ".dvc")
        out = yaml.safe_load(dvc_file.read_text())["outs"][0]
        return {"md5": out["md5"], "size": out.get("size"), "nfiles": out.get("nfiles"),
                "pushed": pushed, "dvc_file": str(dvc_file)}

    def fetch_directory(self, md5: str, target: Path) -> Path:
        """Pulls the directory with DVC hash `md5` (without ".dir") from the cache or the
        remote into `target`, which must not exist yet. The hash names files and a folder the
        clean-up removes, so anything but 32 hex digits is refused before it is used."""
        if not DIR_HASH.fullmatch(md5):
            raise ValueError(f"dataset version {md5[:80]!r} is not a DVC directory hash (32 hex digits)")
        target = Path(target)
        if target.exists():
            raise FileExistsError(f"restore target {target} already exists")
        repo = self._open()
        stub_dir = self.repo_dir / ".restore"
        stub_dir.mkdir(exist_ok=True)
        stub = stub_dir / f"{md5}.dvc"
        stub.write_text(yaml.safe_dump({"outs": [{"md5": f"{md5}.dir", "path": md5, "hash": "md5"}]}))
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                repo.pull(targets=[str(stub)])
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(stub_dir / md5), target)
        finally:
            stub.unlink(missing_ok=True)
            shutil.rmtree(stub_dir / md5, ignore_errors=True)
        return target

    def write_text(self, rel_path: str, text: str) -> Path:
        """A file DVC reads from the workspace (metrics, plots) rather than versions."""
        path = self.repo_dir / rel_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    # The version index: what the manifest does not know about itself (when, which id).
    def _index(self, dataset: str) -> Path:
        return self.repo_dir / "versions" / f"{dataset}.jsonl"

    def record_version(self, dataset: str, version: str, **info) -> bool:
        """Appends a version to the dataset's index unless it is there; True if new."""
        if any(v["version"] == version for v in self.versions(dataset)):
            return False
        path = self._index(dataset)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as fh:
            fh.write(json.dumps({"version": version, "recorded_at": datetime.now(timezone.utc).isoformat(),
                                 **info}, sort_keys=True) + "\n")
        return True

    def versions(self, dataset: str) -> list[dict]:
        path = self._index(dataset)
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
