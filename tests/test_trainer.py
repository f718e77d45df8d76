"""The trainer: sliding windows keep every entity of a long document, Unicode included;
the sampler groups by length and shards global batches; training is deterministic on CPU;
two gloo processes under torchrun match one process on the same global batch."""

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lepton.annotation.schema import load_schema
from lepton.corpus.records import Record, Span
from lepton.corpus.sample import sample_records
from lepton.ner.alignment import IGNORE, encode, tags_to_char_spans
from lepton.ner.batching import length_grouped, shard
from lepton.ner.encoders import build_tiny
from lepton.ner.evaluation import confusion, evaluate_tags
from lepton.ner.job import JobSpec, launch
from lepton.stores import mlflow_for

SCHEMA = load_schema()
LABELS = SCHEMA.bio_tags()
LABEL2ID = {l: i for i, l in enumerate(LABELS)}
ID2LABEL = dict(enumerate(LABELS))
WORDS = ["Ana", "Søren", "Zoë", "東京", "naïve", "🙂", "Ōsaka", "Müller", "و", "שלום", "met", "in", "at", "the"]


@pytest.fixture(scope="module")
def tokenizer():
    texts = [" ".join(WORDS)] * 5 + [r.text for r in sample_records(100, seed=3)]
    return build_tiny(texts, LABELS)[0]


def _long_document(rng: random.Random, n_words: int) -> Record:
    words, spans, pos = [], [], 0
    for i in range(n_words):
        w = rng.choice(WORDS)
        if i and rng.random() < 0.15:
            spans.append(Span(pos, pos + len(w), rng.choice(["PER", "LOC", "ORG"])))
        words.append(w)
        pos += len(w) + 1
    return Record("long", "long.jsonl", 1, " ".join(words), tuple(spans))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(40, 400), st.sampled_from([16, 24, 64]))
def test_windows_keep_every_entity_of_a_long_document(tokenizer, seed, n_words, max_length):
    rec = _long_document(random.Random(seed), n_words)
    enc = encode(tokenizer, rec.text, rec.spans, LABEL2ID, max_length, stride=8)
    assert not enc.misaligned
    assert all(len(w.input_ids) <= max_length for w in enc.windows)
    assert len(enc.windows) > 1 or len(tokenizer(rec.text)["input_ids"]) <= max_length
    # every word is labelled in some window, with its gold tag, on its first sub-token
    seen = {}
    for w in enc.windows:
        for word, tok in w.positions:
            assert w.labels[tok] == enc.word_labels[word]
            seen[word] = True
        assert sum(l != IGNORE for l in w.labels) == len(w.positions)
    assert len(seen) == len(enc.word_spans)
    back = tags_to_char_spans([ID2LABEL[i] for i in enc.word_labels], enc.word_spans, rec.text)
    assert [(s["start"], s["end"], s["label"]) for s in back] == [(s.start, s.end, s.label) for s in rec.spans]


def test_all_subtokens_labelling_is_configurable(tokenizer):
    text = "Quaxmüllerberg met Søren in Zanzibarówka"  # words the tiny vocabulary splits into pieces
    rec = Record("r", "f", 1, text, (Span(0, 14, "PER"), Span(28, 40, "LOC")))
    first = encode(tokenizer, rec.text, rec.spans, LABEL2ID, 64)
    every = encode(tokenizer, rec.text, rec.spans, LABEL2ID, 64, label_subtokens="all")
    n_first = sum(l != IGNORE for l in first.windows[0].labels)
    n_all = sum(l != IGNORE for l in every.windows[0].labels)
    assert n_first == len(first.word_spans) and n_all > n_first
    assert {ID2LABEL[l] for l in every.windows[0].labels if l != IGNORE} <= {"B-PER", "I-PER", "B-LOC", "I-LOC", "O"}


def test_length_grouped_batches_cover_everything_once_and_shard_evenly():
    rng = random.Random(1)
    lengths = [rng.randint(3, 300) for _ in range(1000)]
    batches = length_grouped(lengths, 16, random.Random(7))
    assert sorted(i for b in batches for i in b) == list(range(1000))
    assert batches != length_grouped(lengths, 16, random.Random(8))  # shuffled by seed
    assert batches == length_grouped(lengths, 16, random.Random(7))
    # grouping: padding waste far below random batches
    def waste(bs):
        return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in bs)
    assert waste(batches) < 0.2 * waste(length_grouped(lengths, 16, random.Random(7), group=False))
    for b in batches[:5]:
        assert sorted(shard(b, 0, 2) + shard(b, 1, 2)) == sorted(b)


def test_strict_iob2_scores_and_confusion():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["I-ORG", "O"]]   # wrong type; I- without B- (strict: no entity)
    out = evaluate_tags(gold, pred)
    assert out["precision"] == pytest.approx(1 / 2) and out["recall"] == pytest.approx(1 / 3)
    assert confusion(gold, pred) == {"PER": {"PER": 1}, "LOC": {"ORG": 1}, "ORG": {"O": 1}}


def _files(tmp_path: Path, n: int = 240) -> dict:
    recs = sample_records(n, seed=11)
    cut = {"train": recs[: n * 3 // 4], "dev": recs[n * 3 // 4: n * 7 // 8], "test": recs[n * 7 // 8:]}
    out = {}
    for split, rs in cut.items():
        path = tmp_path / f"{split}.jsonl"
        path.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in rs))
        out[split] = str(path)
    return out


CONFIG = {"epochs": 6, "batch_size": 8, "learning_rate": 5e-3, "seed": 5, "max_length": 64, "patience": 3}


def test_training_is_deterministic_on_cpu(tmp_path):
    files = _files(tmp_path)
    a = launch(JobSpec("tiny", CONFIG, str(tmp_path / "a"), files=files, labels=list(SCHEMA.names)))
    b = launch(JobSpec("tiny", CONFIG, str(tmp_path / "b"), files=files, labels=list(SCHEMA.names)))
    assert a["history"] == b["history"] and a["test"]["f1"] == b["test"]["f1"]
    assert a["steps"] == b["steps"] and a["test"]["f1"] > 0.2


@pytest.mark.slow
def test_two_gloo_processes_match_one_on_the_same_global_batch(tmp_path):
    files = _files(tmp_path)
    # Dropout off: each rank draws its own dropout masks, which one process would not.
    cfg = {**CONFIG, "dropout": 0.0}
    one = launch(JobSpec("tiny", cfg, str(tmp_path / "one"), files=files, labels=list(SCHEMA.names)))
    two = launch(JobSpec("tiny", cfg, str(tmp_path / "two"), files=files, nproc=2, labels=list(SCHEMA.names)))
    assert two["world_size"] == 2 and one["world_size"] == 1
    # Stated tolerance: the per-rank sums meet in a different floating-point order, so
    # losses agree to 1e-4 relative and entity F1 to 0.01, not bit for bit.
    for h1, h2 in zip(one["history"], two["history"], strict=True):
        assert h2["train_loss"] == pytest.approx(h1["train_loss"], rel=1e-4)
        assert abs(h2["dev_f1"] - h1["dev_f1"]) <= 0.01
    assert abs(two["test"]["f1"] - one["test"]["f1"]) <= 0.01


def test_lepton_train_cli_on_a_conll_file_with_a_sweep(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from lepton.cli import main as cli
    from lepton.corpus.sample import write_sample
    from lepton.settings import Settings

    monkeypatch.setenv("LEPTON_HOME", str(tmp_path / "ws"))
    conll = next(p for p in write_sample(tmp_path / "data", 200, seed=9, conll_share=1.0) if p.endswith(".conll"))
    out = CliRunner().invoke(cli, ["train", conll, "--base", "tiny", "--epochs", "3", "--batch-size", "8",
                                   "--max-length", "64", "--sweep", "learning_rate=5e-3,1e-5",
                                   "--out", str(tmp_path / "out")])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout)
    assert summary["chosen"] == {"learning_rate": 5e-3}  # 1e-5 barely moves a random encoder in 3 epochs
    s = Settings.from_env()
    store = mlflow_for(s)
    runs = store.client().search_runs([store._experiment_id()])
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == summary["sweep_run_id"]]
    assert len(children) == 2 and {r.data.params["learning_rate"] for r in children} == {"0.005", "1e-05"}
    assert all("git_commit" in r.data.params and "test_f1" in r.data.metrics for r in children)
    parent = store.client().get_run(summary["sweep_run_id"])
    assert parent.data.params["best_learning_rate"] == "0.005"
    arts = {a.path for a in store.client().list_artifacts(children[0].info.run_id)}
    assert {"training_curve.png", "confusion_matrix.png", "label_map.json", "classification_report.txt"} <= arts


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 1000))
def test_augmentation_keeps_every_label_on_its_mention(seed):
    from lepton.ner.augment import AugmentConfig, augment

    recs = sample_records(30, seed=seed % 7)
    cfg = AugmentConfig(copies=2, mention_replacement=0.7, recase=0.5, seed=seed)
    out = augment(recs, cfg)
    assert len(out) == 3 * len(recs) and out[:len(recs)] == recs
    mentions = {(s.label, r.text[s.start:s.end]) for r in recs for s in r.spans}
    for rec in out[len(recs):]:
        assert len({r.record_id for r in out}) == len(out)
        for sp in rec.spans:
            assert rec.text[sp.start:sp.end] == sp.text and (sp.label, sp.text) in mentions


def test_augmented_training_is_a_derived_dataset_in_lineage(tmp_path):
    from lepton.lineage.events import StageLineage
    from lepton.lineage.store import LineageStore

    files = _files(tmp_path, 120)
    result = launch(JobSpec("tiny", {**CONFIG, "epochs": 1}, str(tmp_path / "o"), files=files,
                            augment={"copies": 1, "seed": 3}, labels=list(SCHEMA.names)))
    aug = result["augmentation"]
    assert aug["train_documents_after"] == 2 * aug["train_documents_before"] == 2 * 90
    store = LineageStore(f"sqlite:///{tmp_path / 'lineage.db'}")
    stage = StageLineage(store, run_id="r1", code_version="t")
    store.add_node("dataset_version", "v1")
    stage.add_training_run("run-1", "v1", augmentation=aug)
    walk = [(n.kind, e) for _, n, e, _ in store.upstream("training_run:run-1")]
    assert walk == [("training_run", None), ("augmented_dataset", "trained-on"), ("dataset_version", "derived-from")]
