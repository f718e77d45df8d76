"""The comparison and the decision as Markdown tables: what the Dagster UI shows in the
evaluation's metadata and the check's, and what `lepton models compare` prints."""

from __future__ import annotations

from lepton.promotion.gate import Decision


def _ci(ci) -> str:
    return f"{ci[0]:.3f}..{ci[1]:.3f}" if ci else ""


def _row(name: str, entry: dict, extra: str = "") -> str:
    ch, cp = entry["challenger"], entry.get("champion")
    cells = [name, f"{ch['f1']:.3f}", _ci(ch["ci"])]
    if cp is not None:
        cells += [f"{cp['f1']:.3f}", _ci(cp["ci"]), f"{entry['delta']:+.3f}", _ci(entry["delta_ci"])]
    cells.append(str(extra or ch["support"]))
    return "| " + " | ".join(cells) + " |"


def comparison_markdown(report: dict) -> str:
    ch = f"v{report['challenger']['version']}"
    cp = f"v{report['champion']['version']}" if report["champion"] else None
    head = ["", f"{ch} F1", "interval"] + ([f"{cp} F1", "interval", "difference", "interval"] if cp else []) + ["support"]
    lines = [f"Scored on the {report['scored_on']['kind']} set {report['scored_on']['version']} "
             f"({report['documents']} documents); intervals: {report['bootstrap']['confidence']:.0%}, "
             f"{report['bootstrap']['samples']} bootstrap resamples of documents.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head), _row("overall", report["overall"])]
    lines += [_row(f"label {k}", v) for k, v in report["labels"].items()]
    lines += [_row(k, v, f"{v['documents']} docs") for k, v in report["slices"].items()]
    if report["note"]:
        lines += ["", report["note"]]
    return "\n".join(lines)


def rules_markdown(decision: Decision) -> str:
    mark = {True: "pass", False: "REFUSED", None: "n/a"}
    return "\n".join(["| rule | result | detail |", "|---|---|---|"]
                     + [f"| {r.name} | {mark[r.passed]} | {r.detail} |" for r in decision.rules])
