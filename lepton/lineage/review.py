"""The steward's review pack: one HTML file that holds everything needed to approve a model.

It is a single self-contained file (inline CSS, pictures as data URIs, a Content-Security-Policy
that forbids any fetch) because it is archived next to the approval and mailed to reviewers who
may be offline or behind a proxy; a pack that pulls anything from a URL could show something else
tomorrow than what was signed off. Gathering the facts from the stores is done elsewhere; this only
lays out a plain dict, so it imports no dagster and can run from the CLI or a test alone.
"""

from __future__ import annotations

import base64
import json
import numbers
from pathlib import Path

import jinja2

TEMPLATE = "review_pack.html.j2"
SECTIONS = ("summary", "lineage", "manifest", "records", "validation", "agreement", "training",
            "erasures", "promotion", "approval")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Sections that are lists or mappings may be missing from a pack gathered from a partial store;
# they render as an explicit "none" line instead of failing, because an empty section is itself
# something a steward must see. The model's identity is not optional: a pack without it is useless.
_DICT_KEYS = ("manifest", "records_by_source", "records_by_sensitivity", "training", "approval")
_LIST_KEYS = ("validations", "erasures", "chain", "promotion")


def _data_uri(path: Path, role: str) -> str:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"the review pack's {role} picture does not exist: {path}")
    raw = path.read_bytes()
    # Declared as image/png below; a wrong file would only show as a broken image in the browser,
    # long after the pack was archived, so it is refused here.
    if not raw.startswith(_PNG_MAGIC):
        raise ValueError(f"the review pack's {role} picture is not a PNG file: {path}")
    return "data:image/png;base64," + base64.b64encode(raw).decode("ascii")


def _dash(value):
    """Blank fields must look blank on purpose, not like a rendering bug."""
    if value is None or isinstance(value, jinja2.Undefined) or value == "":
        return "—"
    return value


def _number(value, digits: int = 4):
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        return _dash(value)
    if isinstance(value, numbers.Integral):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def _pretty(value):
    """Provenance values can be nested; show them as JSON rather than as Python reprs."""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, default=str)
    return _dash(value)


def _columns(table: dict) -> list:
    """The inner keys of {row: {column: n}} in first-seen order, so columns keep the order the
    gatherer chose (train, dev, test; PER, ORG, ...) even where a row lacks some of them."""
    seen: dict = {}
    for row in (table or {}).values():
        for column in (row or {}):
            seen.setdefault(column, None)
    return list(seen)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("lepton.lineage", "templates"),
        # Every value comes from records, annotators and run parameters: none of it is trusted markup.
        autoescape=True,
        undefined=jinja2.ChainableUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )
    env.filters.update(dash=_dash, number=_number, pretty=_pretty)
    return env


def _context(pack: dict, picture: Path, curve: Path | None) -> dict:
    model = dict(pack.get("model") or {})
    missing = [k for k in ("name", "version") if model.get(k) in (None, "")]
    if missing:
        raise KeyError(f"the review pack's model lacks {', '.join(missing)}; cannot say what is under review")
    ctx = {k: v for k, v in pack.items()}
    ctx["model"] = model
    for key in _DICT_KEYS:
        ctx[key] = dict(pack.get(key) or {})
    for key in _LIST_KEYS:
        ctx[key] = list(pack.get(key) or [])
    ctx["agreement"] = pack.get("agreement") or None
    ctx["label_schema"] = pack.get("label_schema") or None
    ctx["chain"] = sorted(ctx["chain"], key=lambda r: (r.get("depth") is None, r.get("depth") or 0))
    approval = ctx["approval"]
    ctx["sign_off_command"] = pack.get("sign_off_command") or approval.get("sign_off_command") or ""
    manifest = ctx["manifest"]
    labels = manifest.get("labels") or {}
    ctx["label_splits"] = list(labels)
    ctx["label_names"] = _columns(labels)
    ctx["source_splits"] = _columns(ctx["records_by_source"])
    ctx["source_totals"] = {split: sum((per or {}).get(split) or 0 for per in ctx["records_by_source"].values())
                            for split in ctx["source_splits"]}
    ctx["validation_failures"] = sum(1 for v in ctx["validations"] if not v.get("success"))
    ctx["picture_uri"] = _data_uri(picture, "lineage")
    ctx["curve_uri"] = _data_uri(curve, "training-curve") if curve is not None else None
    ctx["sections"] = SECTIONS
    return ctx


def render_review_pack(pack: dict, picture: Path, out: Path, curve: Path | None = None) -> Path:
    """`picture`: the lineage PNG (lepton.lineage.picture.draw_upstream); `curve`: an optional
    training-curve PNG. Returns `out`."""
    html = _environment().get_template(TEMPLATE).render(**_context(pack, picture, curve))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Written whole, then moved into place, so a reader never opens half a pack.
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return out
