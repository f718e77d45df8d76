"""A validation result as one self-contained HTML page: what a person fixing a batch reads.
Rows are named by file, line and span; values appear only masked."""

from __future__ import annotations

from html import escape
from pathlib import Path

from lepton.validation.gx_suite import ValidationReport

_STYLE = ("body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;width:100%}"
          "td,th{border:1px solid #ccc;padding:.4em;text-align:left;vertical-align:top}"
          ".pass{color:#176f2c}.fail{color:#b00020;font-weight:600}")


def write_html(report: ValidationReport, batch: str, path: Path) -> Path:
    status = "passed" if report.success else "FAILED"
    rows = "".join(
        f"<tr><td>{escape(o.rule)}</td><td><code>{escape(o.expectation)}</code></td><td>{escape(o.column)}</td>"
        f"<td class=\"{'pass' if o.success else 'fail'}\">{'pass' if o.success else 'fail'}</td>"
        f"<td>{o.unexpected_count}</td><td>{'<br>'.join(escape(r) for r in o.failing_rows)}</td>"
        f"<td>{'<br>'.join(escape(e) for e in o.examples)}</td></tr>"
        for o in sorted(report.outcomes, key=lambda o: o.success))
    html = (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{escape(report.suite)} on {escape(batch)}"
            f"</title><style>{_STYLE}</style></head><body>"
            f"<h1>Validation {escape(status)}: suite <code>{escape(report.suite_key)}</code></h1>"
            f"<p>Annotation batch <code>{escape(batch)}</code>; {report.evaluated_rows} spans evaluated; "
            f"{len(report.failed)} of {len(report.outcomes)} expectations failed.</p>"
            "<table><tr><th>rule</th><th>expectation</th><th>columns</th><th>result</th><th>failing rows</th>"
            "<th>first failing rows (file:line span)</th><th>their values (text masked)</th></tr>"
            f"{rows}</table></body></html>")
    path = Path(path)
    path.write_text(html, encoding="utf-8")
    return path
