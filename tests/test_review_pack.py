"""The steward review pack, rendered and then opened in a real headless Chromium.

No mocks of the browser: the point is to prove that a person opening the file sees the pictures
and every section, and that nothing in it reaches for the network. A missing Chromium fails these
tests (CI installs it) rather than skipping them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lepton.lineage import browser
from lepton.lineage.review import SECTIONS, render_review_pack

MERKLE = "b3:9f2c4e1a7d0b5c8e3f6a9d2c5b8e1f4a7d0c3b6e9f2a5d8c1b4e7f0a3d6c9b2e"
ERASED = "b3:4d7a0c3f6b9e2d5a8c1f4b7e0d3a6c9f2b5e8d1a4c7f0b3e6d9a2c5f8b1e4d7a"
XSS = "<script>alert(1)</script>"


def _chain() -> list[dict]:
    kinds = [("model_version", "registered_as", "model:lepton-ner/7"),
             ("training_run", "trained_on", "run:5f1c2a9e"),
             ("dataset_version", "versioned_as", "dataset:ds-2031-04-02-a1"),
             ("validation_result", "validated_by", "validation:gx-batch-0041"),
             ("annotation_batch", "annotated_as", "annotation:batch-0041"),
             ("governed_batch", "governed_as", "governed:batch-0041"),
             ("clean_batch", "cleaned_as", "clean:batch-0041"),
             ("record_batch", "parsed_as", "records:batch-0041"),
             ("input_file", "landed_from", "file:news-2031-03.jsonl")]
    return [{"depth": d, "node": node, "kind": kind, "edge": edge, "run_id": f"dagster-{d:02d}aa7f",
             "code_version": "git:aa57953"} for d, (kind, edge, node) in enumerate(kinds)]


def make_pack(*, tainted: bool = False, empty: bool = False) -> dict:
    pack = {
        "model": {"name": "lepton-ner", "version": "7", "node": "model:lepton-ner/7", "run_id": "5f1c2a9e0b7d4c3a",
                  "champion": True, "tainted": tainted, "generated_at": "2031-04-03T09:14:00Z"},
        "manifest": {
            "dataset_version": "ds-2031-04-02-a1", "dataset": "lepton-news-ner", "key_id": "ed25519:steward-2031",
            "merkle_root": MERKLE, "rows": {"train": 1840, "dev": 230, "test": 231},
            "labels": {"train": {"PER": 2210, "ORG": 1533, "LOC": 1902, "MISC": 640},
                       "dev": {"PER": 270, "ORG": 199, "LOC": 241, "MISC": 77},
                       "test": {"PER": 281, "ORG": 188, "LOC": 236, "MISC": 81}},
            "provenance": {"dvc_rev": "3e1d0c7", "sources": ["news-2031-03.jsonl", "wire-2031-03.csv"],
                           "policy": {"version": "2031.1", "redaction": "mask"}},
            "seed": 1337,
        },
        "records_by_source": {"news-2031-03.jsonl": {"train": 1200, "dev": 150, "test": 151},
                              "wire-2031-03.csv": {"train": 640, "dev": 80, "test": 80}},
        "records_by_sensitivity": {"public": 1917, "internal": 312, "confidential": 72},
        "validations": [
            {"suite": "records", "name": "expect_column_values_to_not_be_null(text)", "success": True,
             "at": "2031-04-02T08:01:12Z", "node": "validation:gx-batch-0041"},
            {"suite": "records", "name": "expect_column_values_to_be_unique(record_id)", "success": True,
             "at": "2031-04-02T08:01:12Z", "node": "validation:gx-batch-0041"},
            {"suite": "annotations", "name": "spans_within_text_bounds", "success": True,
             "at": "2031-04-02T10:44:51Z", "node": "validation:gx-ann-0041"},
            {"suite": "annotations", "name": f"label_in_schema {XSS}", "success": False,
             "at": "2031-04-02T10:44:51Z", "node": "validation:gx-ann-0041"},
        ],
        "agreement": {"mean_pairwise_f1": 0.8731, "kappa": 0.8112, "threshold": 0.8, "passed": True},
        "training": {"metrics": {"test_f1": 0.8542, "best_dev_f1": 0.8613, "test_precision": 0.8611,
                                 "test_recall": 0.8474, "train_loss": 0.0931},
                     "params": {"base_encoder": "bert-base-cased", "epochs": "5", "learning_rate": "3e-05",
                                "batch_size": "16", "seed": "1337"}},
        "erasures": [{"erasure": "erasure-0003", "record_hash": ERASED, "at": "2031-04-02T15:30:00Z",
                      "by": "dpo@example.org", "replaced_by": "ds-2031-04-02-a2"}],
        "chain": _chain(),
        "approval": {"status": "pending", "by": None, "at": None, "note": XSS},
        "sign_off_command": "lepton lineage sign-off lepton-ner/7 --approve --by NAME --note TEXT",
    }
    if empty:
        pack.update(records_by_source={}, records_by_sensitivity={}, validations=[], agreement=None,
                    training={"metrics": {}, "params": {}}, erasures=[], chain=[])
        pack["manifest"] = {**pack["manifest"], "rows": {}, "labels": {}, "provenance": {}}
    return pack


def _pictures(folder: Path) -> tuple[Path, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    picture, curve = folder / "lineage.png", folder / "curve.png"
    fig, ax = plt.subplots(figsize=(12, 3.2))
    chain = _chain()[::-1]
    xs = list(range(len(chain)))
    ax.plot(xs, [0] * len(xs), color="#777777", zorder=1)
    ax.scatter(xs, [0] * len(xs), s=900, zorder=2,
               c=["#9e9e9e", "#90caf9", "#64b5f6", "#42a5f5", "#ffa726", "#a5d6a7", "#ce93d8", "#ef9a9a", "#e57373"])
    for x, row in zip(xs, chain):
        ax.annotate(f"{row['kind']}\n{row['node'].split(':', 1)[1][:16]}", (x, 0), xytext=(0, -34),
                    textcoords="offset points", ha="center", fontsize=7)
    ax.set_title("lineage of model:lepton-ner/7")
    ax.set_ylim(-1, 0.6)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(picture, dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 3))
    epochs = [1, 2, 3, 4, 5]
    ax.plot(epochs, [0.61, 0.77, 0.83, 0.855, 0.861], marker="o", label="dev F1")
    ax.plot(epochs, [0.92, 0.41, 0.22, 0.13, 0.093], marker="s", label="train loss")
    ax.set_xlabel("epoch")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(curve, dpi=100)
    plt.close(fig)
    return picture, curve


def _section(html: str, sid: str) -> str:
    m = re.search(rf'<section id="{sid}"[^>]*>(.*?)</section>', html, re.S)
    assert m, f"no section {sid}"
    return m.group(1)


@pytest.fixture(scope="module")
def chromium():
    try:
        return browser.chromium_path()
    except browser.BrowserUnavailable as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, chromium):
    """One pack, rendered once and opened once for the screenshot and once for the DOM."""
    folder = tmp_path_factory.mktemp("review")
    picture, curve = _pictures(folder / "pictures")
    html = render_review_pack(make_pack(), picture, folder / "pack" / "review.html", curve=curve)
    png = browser.screenshot(html, folder / "review.png", width=1280, height=2400)
    return {"html": html, "text": html.read_text(encoding="utf-8"), "png": png, "dom": browser.dump_dom(html)}


def test_screenshot_is_a_real_rendering(rendered):
    from PIL import Image, ImageStat

    png = rendered["png"]
    assert png.is_file() and png.stat().st_size > 10_000
    with Image.open(png) as img:
        assert img.size == (1280, 2400)
        rgb = img.convert("RGB")
        assert max(ImageStat.Stat(rgb).var) > 200, "the screenshot is (nearly) one flat colour"
        colours = rgb.getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 50, "too few distinct colours for text, badges and pictures"


def test_dom_shows_every_section_and_decoded_pictures(rendered):
    dom = rendered["dom"]
    assert 'data-rendered="ok"' in dom, "the page's script did not see every picture decode"
    assert 'data-images="2"' in dom
    positions = [dom.find(f'<section id="{sid}" data-section="{sid}"') for sid in SECTIONS]
    assert all(p >= 0 for p in positions), dict(zip(SECTIONS, positions))
    assert positions == sorted(positions), "sections out of order"
    manifest = _section(dom, "manifest")
    assert MERKLE in manifest
    # Label table: one row per label, one column per split, the counts where they belong.
    per = re.search(r"<td>PER</td>(.*?)</tr>", manifest, re.S).group(1)
    assert re.findall(r">([\d,]+)</td>", per) == ["2,210", "270", "281"]
    assert "1,840" in manifest
    records = _section(dom, "records")
    assert "1,501" in records and "2,301" in records and "1,840" in records  # per-source, sensitivity, split totals
    erasures = _section(dom, "erasures")
    assert ERASED in erasures and "erasure-0003" in erasures and "dpo@example.org" in erasures
    assert "lepton lineage sign-off lepton-ner/7 --approve" in _section(dom, "approval")
    assert dom.count("<script") == 1, "a field's text became a script element"


def test_pack_is_self_contained(rendered):
    text = rendered["text"]
    for attr in re.findall(r'\b(?:src|href|srcset|action|poster)\s*=\s*["\']?([^"\'\s>]*)', text, re.I):
        assert not re.match(r"\s*(https?:)?//", attr, re.I), f"external reference {attr[:80]}"
    assert not re.search(r"https?://", text, re.I)
    assert not re.search(r"@import|url\(", text, re.I), "CSS must not fetch anything"
    assert len(re.findall(r'<img src="data:image/png;base64,', text)) == 2


def test_field_values_are_escaped(rendered):
    text = rendered["text"]
    assert XSS not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in _section(text, "validation")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in _section(text, "approval")


def test_tainted_model_warns_against_approval(rendered, tmp_path):
    picture, _ = _pictures(tmp_path / "pictures")
    clean = _section(rendered["text"], "approval")
    assert "tainted-warning" not in clean and "must not be approved" not in clean
    out = render_review_pack(make_pack(tainted=True), picture, tmp_path / "tainted.html")
    text = out.read_text(encoding="utf-8")
    approval = _section(text, "approval")
    assert "tainted-warning" in approval and "must not be approved before it is retrained" in approval
    assert "Tainted</span>" in text
    assert 'data-images="' not in text  # no curve given: one picture, marked only once a browser runs


def test_empty_sections_say_none_and_a_broken_picture_is_reported(tmp_path, chromium):
    _, curve = _pictures(tmp_path / "pictures")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a picture" * 8)
    out = render_review_pack(make_pack(empty=True), broken, tmp_path / "empty.html", curve=curve)
    text = out.read_text(encoding="utf-8")
    for sid, phrase in [("lineage", "No upstream chain"), ("records", "No records by source"),
                        ("records", "No records by sensitivity"), ("validation", "No validation results"),
                        ("agreement", "No inter-annotator agreement"), ("training", "No training metrics"),
                        ("training", "No training parameters"), ("erasures", "No erasures"),
                        ("manifest", "No label counts"), ("manifest", "No provenance")]:
        assert phrase in _section(text, sid), (sid, phrase)
    dom = browser.dump_dom(out)
    assert 'data-rendered="broken"' in dom, "a picture that cannot decode must not pass as rendered"


def test_bad_inputs_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="lineage picture"):
        render_review_pack(make_pack(), tmp_path / "missing.png", tmp_path / "x.html")
    jpeg = tmp_path / "pic.png"
    jpeg.write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 64)
    with pytest.raises(ValueError, match="not a PNG"):
        render_review_pack(make_pack(), jpeg, tmp_path / "x.html")
    pack = make_pack()
    del pack["model"]["version"]
    picture, _ = _pictures(tmp_path / "pictures")
    with pytest.raises(KeyError, match="version"):
        render_review_pack(pack, picture, tmp_path / "x.html")


def test_browser_unavailable_is_explicit(tmp_path, monkeypatch):
    monkeypatch.setenv("LEPTON_CHROMIUM", str(tmp_path / "no-such-chromium"))
    with pytest.raises(browser.BrowserUnavailable, match="LEPTON_CHROMIUM"):
        browser.chromium_path()
    monkeypatch.delenv("LEPTON_CHROMIUM")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(browser.BrowserUnavailable, match="Install Chromium"):
        browser.chromium_path()
    page = tmp_path / "page.html"
    page.write_text("<html><body>x</body></html>")
    with pytest.raises(browser.BrowserUnavailable):
        browser.dump_dom(page)
