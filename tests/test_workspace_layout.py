"""One workspace layout: lepton.workspace names every path of local state, and no other module
spells one; the stage readers work on work/ and on an archive unpacked into the same shape."""

import ast
import json
from pathlib import Path

from lepton.settings import Settings
from lepton.workspace import BATCH_STAGES, GOVERNED, RAW, SOURCES, Layout, WorkTree, erasures, ingested, stage_docs

REPO = Path(__file__).resolve().parent.parent
# Folder and file names that exist only as workspace paths (names that are also dictionary keys
# or key purposes, such as "archive" or "erasures", are left to review).
PATH_NAMES = {"work", "keys", "audit", "snapshots", "by-snapshot", "records.jsonl", "quarantine.jsonl",
              "findings.jsonl", "keyring.json", "audit.jsonl", "master.key", "lineage.db", "split_rows.jsonl",
              "events.jsonl", "batch.json"}


def test_no_module_but_the_layout_spells_a_workspace_path():
    found = []
    for package in ("lepton", "assets", "resources", "pipelines"):
        for path in sorted((REPO / package).rglob("*.py")):
            if path == REPO / "lepton" / "workspace.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and node.value in PATH_NAMES:
                    found.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.value!r}")
    assert found == []


def test_settings_and_stores_take_their_defaults_from_the_layout(tmp_path, monkeypatch):
    for var in ("LEPTON_LANDING", "LEPTON_LINEAGE_URL", "MLFLOW_TRACKING_URI", "LEPTON_MLFLOW_ARTIFACTS",
                "LEPTON_DVC_REPO", "LEPTON_DVC_REMOTE", "LEPTON_KEY_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LEPTON_HOME", str(tmp_path))
    s = Settings.from_env()
    layout = Layout(tmp_path.resolve())
    assert s.layout == layout and s.key_file == layout.master_key and s.dvc_repo == layout.dvc_repo
    assert s.lineage_url == f"sqlite:///{layout.lineage_db}" and s.landing_url == str(layout.landing)
    assert layout.work.stage_file(RAW, "b1") == tmp_path.resolve() / "work" / "raw" / "b1" / "records.jsonl"


def _write(tree: WorkTree, stage: str, batch: str, docs: list[dict]) -> None:
    path = tree.stage_file(stage, batch)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))


def test_stage_readers_work_on_any_tree_of_the_same_shape(tmp_path):
    for root in (Layout(tmp_path).work.root, tmp_path / "unpacked-archive"):
        tree = WorkTree(root)
        _write(tree, RAW, "b2", [{"record_id": "r3", "source": "f.jsonl", "line": 1, "text": "Cy"}])
        _write(tree, RAW, "b1", [{"record_id": "r1", "source": "f.jsonl", "line": 1, "text": "Ana"},
                                 {"record_id": "r2", "source": "f.jsonl", "line": 2, "text": "Bob"}])
        _write(tree, GOVERNED, "b1", [{"record_id": "r1", "sensitivity": "internal"}])
        (tree.stage(SOURCES, "b1")).mkdir(parents=True)
        assert [b for b, _ in stage_docs(tree, RAW)] == ["b1", "b1", "b2"]
        assert ingested(tree)["r2"] == {"batch": "b1", "source": "f.jsonl", "line": 2, "text": "Bob"}
        # retention archives exactly these folders, in stage order
        assert tree.batch_dirs("b1") == [tree.stage(s, "b1") for s in (SOURCES, RAW, GOVERNED)]
        assert set(BATCH_STAGES) >= {SOURCES, RAW, GOVERNED}
        tree.erasures.mkdir(parents=True)
        for name in ("20261203T090000-b", "20261203T080000-a"):
            (tree.erasures / f"{name}.json").write_text(json.dumps({"erasure": name}))
        assert [t["erasure"] for t in erasures(tree)] == ["20261203T080000-a", "20261203T090000-b"]
