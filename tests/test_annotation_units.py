"""Span conversion, agreement and snapshots: the annotation core, without a server."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lepton.annotation.agreement import Vote, agreement, cohen_kappa, entity_f1, resolve
from lepton.annotation.convert import from_result, spans_to_token_tags, to_result, token_tags_to_spans
from lepton.annotation.resolve import diff, resolve_snapshot
from lepton.annotation.schema import LabelSchema, load_schema, schema_version

SCHEMA = load_schema()
from lepton.annotation.sync import SnapshotStore, compare, entries
from lepton.corpus.records import Span
from lepton.ner.encoders import token_offsets_for

# Words from scripts where offsets usually go wrong: emoji (astral, ZWJ sequences, skin tones),
# combining marks, CJK, right-to-left Arabic and Hebrew, and plain Latin.
WORDS = ["Ana", "Acme", "Oslo", "e\u0301cole", "Zo\u0308e", "\U0001F600", "\U0001F469\u200D\U0001F4BB",
         "\U0001F44D\U0001F3FD", "東京", "北京大学", "김민수", "مرحبا", "שלום", "São", "naïve", "x", "(", "),"]


@pytest.fixture(scope="module", params=["tiny", "minilm"])
def offsets(request):
    return token_offsets_for(request.param)[1]


def _text_and_offsets(words, offsets):
    text = " ".join(words)
    return text, [o for o in offsets(text) if o[1] > o[0]]


def _units(offs):
    """Distinct character ranges: a Hangul syllable is several jamo tokens over one character."""
    return sorted(set(offs))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=12), data=st.data())
def test_token_boundary_spans_round_trip_exactly(offsets, words, data):
    text, offs = _text_and_offsets(words, offsets)
    units = _units(offs)
    # non-overlapping spans laid on token boundaries
    cuts = sorted(data.draw(st.sets(st.integers(0, len(units)), min_size=0, max_size=6)))
    spans = []
    for a, b in zip(cuts[::2], cuts[1::2]):
        if b > a:
            spans.append(Span(units[a][0], units[b - 1][1], data.draw(st.sampled_from(SCHEMA.names))))
    tt = spans_to_token_tags(offs, spans)
    assert tt.unaligned == []
    back = token_tags_to_spans(offs, tt.tags, text)
    assert [(s.start, s.end, s.label) for s in back] == [(s.start, s.end, s.label) for s in spans]
    assert all(s.text == text[s.start:s.end] for s in back)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=10), data=st.data())
def test_any_span_is_either_kept_exactly_or_reported(offsets, words, data):
    text, offs = _text_and_offsets(words, offsets)
    n = data.draw(st.integers(0, 4))
    spans = []
    for _ in range(n):
        a = data.draw(st.integers(0, len(text) - 1))
        b = data.draw(st.integers(a + 1, len(text)))
        spans.append(Span(a, b, "PER"))
    tt = spans_to_token_tags(offs, spans)
    back = {(s.start, s.end) for s in token_tags_to_spans(offs, tt.tags, text)}
    reported = {(p.start, p.end) for p in tt.unaligned}
    for sp in spans:
        assert (sp.start, sp.end) in back or (sp.start, sp.end) in reported, "a span was silently dropped"
    assert back <= {(s.start, s.end) for s in spans}, "a span was shifted"


def test_misaligned_span_names_the_edge_and_rule():
    offs = [(0, 3), (4, 8)]  # "Ana Acme"
    tt = spans_to_token_tags(offs, [Span(1, 3, "PER"), Span(4, 6, "ORG")])
    assert [(p.rule, p.detail) for p in tt.unaligned] == [("span edges on token boundaries", "start"),
                                                          ("span edges on token boundaries", "end")]
    assert tt.tags == ["O", "O"]


def test_label_studio_results_round_trip_and_problems_are_named():
    text = "\U0001F600 Ana met Bob in 東京 today"
    spans = [Span(2, 5, "PER", "Ana"), Span(10, 13, "PER", "Bob"), Span(17, 19, "LOC", "東京")]
    parsed = from_result(text, to_result(spans), SCHEMA)
    assert parsed.spans == spans and parsed.problems == [] and parsed.repaired == 0
    # an older front end counted UTF-16 units: after the emoji every offset is one too far
    utf16 = to_result([Span(3, 6, "PER", "Ana")])
    parsed = from_result(text, utf16, SCHEMA)
    assert parsed.spans == [Span(2, 5, "PER", "Ana")] and parsed.repaired == 1
    bad = to_result([Span(2, 5, "CREATURE", "Ana"), Span(0, 99, "PER", "x"), Span(6, 9, "PER", "Bob")])
    parsed = from_result(text, bad, SCHEMA)
    assert [p.rule for p in parsed.problems] == ["label in the current schema", "0 <= start < end <= len(text)",
                                                 "span text equals text[start:end]"]
    assert len(parsed.spans) == 3, "rule-breaking spans stay for the gate to block"
    parsed = from_result(text, [{"from_name": "label", "to_name": "text", "type": "labels",
                                 "value": {"start": "2", "end": 5, "labels": ["PER"]}}], SCHEMA)
    assert parsed.spans == [] and [p.rule for p in parsed.unusable] == ["integer start and end"]


def test_label_config_is_generated_from_the_label_set():
    cfg = LabelSchema.of(("PER", "ORG")).label_config()
    assert cfg.count("<Label ") == 2 and 'value="PER"' in cfg and 'toName="text"' in cfg
    assert schema_version(("PER", "ORG")) != schema_version(("PER", "ORG", "DATE"))
    assert schema_version(("PER", "ORG")) == schema_version(("PER", "ORG"))


def _v(aid, spans, at, gt=False, who=None):
    return Vote(aid, who or f"u{aid}", at, gt, [Span(s, e, lab) for s, e, lab in spans])


def test_agreement_figures():
    a = [Span(0, 3, "PER"), Span(8, 12, "ORG")]
    b = [Span(0, 3, "PER"), Span(8, 12, "LOC")]
    assert entity_f1(a, b) == 0.5
    assert entity_f1([], []) == 1.0
    assert cohen_kappa(["O", "PER", "O", "ORG"], ["O", "PER", "O", "ORG"]) == 1.0
    assert cohen_kappa(["O", "PER", "O", "ORG"], ["O", "O", "PER", "ORG"]) < 0.5
    text = "Ann met Acme Corp"
    ag = agreement([(text, [_v(1, [(0, 3, "PER"), (8, 17, "ORG")], "1"), _v(2, [(0, 3, "PER")], "2")]),
                    (text, [_v(3, [(0, 3, "PER")], "1")])])
    assert ag.tasks == 1 and ag.pairs == 1
    assert ag.entity_f1 == pytest.approx(2 / 3)
    assert 0 < ag.token_kappa < 1


def test_conflicts_are_settled_by_the_documented_rule():
    one, two = [(0, 3, "PER")], [(0, 3, "ORG")]
    r = resolve([_v(1, one, "2026-01-02"), _v(2, two, "2026-01-01", gt=True)])
    assert (r.rule, r.winner, r.conflict) == ("reviewer", 2, True)
    r = resolve([_v(1, one, "1"), _v(2, one, "2"), _v(3, two, "3")])
    assert r.rule == "majority" and [(s.start, s.end, s.label) for s in r.spans] == one
    r = resolve([_v(1, one, "1"), _v(2, two, "2")])
    assert (r.rule, r.winner) == ("latest", 2)
    r = resolve([_v(1, one, "1"), _v(2, one, "2")])
    assert (r.rule, r.conflict) == ("unanimous", False)


def _ls_task(tid, record_id, text, anns):
    return {"id": tid, "data": {"text": text, "record_id": record_id, "record_batch": "b1", "source": "f.jsonl",
                                "line": tid},
            "annotations": [{"id": aid, "completed_by": 1, "updated_at": at, "ground_truth": False,
                             "was_cancelled": False, "result": to_result([Span(s, e, lab)])}
                            for aid, at, (s, e, lab) in anns]}


def test_snapshots_are_content_hashed_and_count_every_change(tmp_path):
    store = SnapshotStore(tmp_path)
    t1 = [_ls_task(1, "r1", "Ann met Bob", [(10, "t0", (0, 3, "PER"))]),
          _ls_task(2, "r2", "Bob met Ann", [(11, "t0", (0, 3, "PER"))])]
    now = entries(t1)
    s1 = store.write(7, now, compare(now, {}), None)
    assert s1.changes == {"added": 2, "updated": 0, "removed": 0}
    again = store.write(7, now, compare(now, {}), None)
    assert again.snapshot_id == s1.snapshot_id, "the same state stored twice is the same snapshot"
    # task 1's annotation edited, task 2's deleted
    t2 = [_ls_task(1, "r1", "Ann met Bob", [(10, "t1", (8, 11, "PER"))]), _ls_task(2, "r2", "Bob met Ann", [])]
    now2 = entries(t2)
    s2 = store.write(7, now2, compare(now2, store.state(s1.snapshot_id)), s1.snapshot_id)
    assert s2.changes == {"added": 0, "updated": 1, "removed": 1}
    assert s2.sequence == 2 and store.head() == s2.snapshot_id
    b1, b2 = resolve_snapshot(store.load(s1.snapshot_id), SCHEMA), resolve_snapshot(store.load(s2.snapshot_id), SCHEMA)
    d = diff(b1.records, b2.records)
    assert d["added"] == [{"record_id": "r1", "start": 8, "end": 11, "label": "PER"}]
    assert {(x["record_id"], x["start"]) for x in d["removed"]} == {("r1", 0), ("r2", 0)}
    # history kept: the first snapshot still says what it said
    assert store.load(s1.snapshot_id)["tasks"][0]["annotations"][0]["annotation_id"] == 10


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 30), st.integers(1, 12)), max_size=25))
def test_overlap_rule_matches_its_definition(spans):
    from lepton.validation.spans import overlapping

    rows = [(r, s, s + w) for r, s, w in spans]
    got = overlapping([r for r, _, _ in rows], [s for _, s, _ in rows], [e for _, _, e in rows]).tolist()
    want = [any(j != i and rj == ri and sj < ei and si < ej for j, (rj, sj, ej) in enumerate(rows))
            for i, (ri, si, ei) in enumerate(rows)]
    assert got == want
