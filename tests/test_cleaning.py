from hypothesis import given, settings
from hypothesis import strategies as st

from lepton.corpus.records import Span
from lepton.governance.cleaning import clean_text

WORDS = st.sampled_from(["Ana", "Zu\u0308rich", "Cafe\u0301", "東京", "👩\u200d💻", "O'Brien", "x\u200by", "a\x07b"])
GAPS = st.sampled_from([" ", "  ", "\t", "\u00a0", " \u200b ", "\r\n", "\u2003"])


@st.composite
def docs(draw):
    words = draw(st.lists(WORDS, min_size=1, max_size=8))
    gaps = draw(st.lists(GAPS, min_size=len(words) + 1, max_size=len(words) + 1))
    text, spans = gaps[0], []
    for w, g in zip(words, gaps[1:]):
        spans.append(Span(len(text), len(text) + len(w), "X"))
        text += w + g
    return text, spans


@settings(max_examples=200, deadline=None)
@given(docs())
def test_spans_follow_the_cleaning_exactly(doc):
    text, spans = doc
    cleaned = clean_text(text)
    out = cleaned.text
    assert "  " not in out and out == out.strip()
    assert not any(c in out for c in "\u200b\x07\t\r\n\u00a0\u2003")
    assert "\u200d" in out or "\u200d" not in text, "ZWJ is kept"
    for sp in spans:
        moved = cleaned.map_span(sp)
        assert moved is not None
        assert moved.text == out[moved.start:moved.end] == clean_text(text[sp.start:sp.end]).text


def test_clean_ascii_text_is_untouched_with_identity_offsets():
    c = clean_text("Ana Silva joined Acme.")
    assert not c.changed and c.text == "Ana Silva joined Acme."
    assert c.map_span(Span(0, 9, "PER")) == Span(0, 9, "PER")


def test_a_span_of_only_removed_characters_is_reported_not_shifted():
    c = clean_text("Ana \u200b\u200b joined")
    assert c.map_span(Span(4, 6, "X")) is None


def test_text_that_needs_no_change_is_not_reported_as_changed():
    for text in ["Zürich and São Paulo", "emoji 👩\u200d💻 stays", "東京"]:
        c = clean_text(text)
        assert not c.changed and c.text == text
