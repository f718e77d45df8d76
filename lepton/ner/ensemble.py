"""Ensembles of registered versions (joint inference and fusion): several models of one
label schema predict together, either

- `vote`: each member predicts spans with its own tokenizer, and a span (start, end, label)
  stands when more than half the members predict it exactly; overlaps are settled by votes,
  then by mean score; or
- `average`: members that share a tokenizer (the same vocabulary) have their token
  probabilities averaged before the word tags are read, the usual soft-voting ensemble.

Either way the result has the shape a single model's has (lepton.ner.predict.Prediction), so
the predictions asset, the promotion gate and the served pyfunc treat an ensemble like any
version."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from lepton.ner.predict import Prediction, predict_with_uncertainty

METHODS = ("vote", "average")


class EnsembleError(ValueError):
    pass


def same_tokenizer(tokenizers) -> bool:
    first = tokenizers[0].get_vocab()
    return all(t.get_vocab() == first for t in tokenizers[1:])


def vote(per_member: list[list[Prediction]]) -> list[Prediction]:
    """Majority vote on exact spans, document by document."""
    n = len(per_member)
    out = []
    for docs in zip(*per_member):
        votes: dict[tuple, list[float]] = defaultdict(list)
        for pred in docs:
            for sp in pred.spans:
                votes[(sp["start"], sp["end"], sp["label"])].append(float(sp.get("score", 1.0)))
        ranked = sorted(((k, v) for k, v in votes.items() if len(v) * 2 > n),
                        key=lambda kv: (-len(kv[1]), -sum(kv[1]) / len(kv[1]), kv[0]))
        kept: list[dict] = []
        for (start, end, label), scores in ranked:
            if any(start < k["end"] and k["start"] < end for k in kept):
                continue
            kept.append({"start": start, "end": end, "label": label,
                         "score": round(sum(scores) / n, 4)})  # a member that did not vote for it counts as 0
        kept.sort(key=lambda s: s["start"])
        out.append(Prediction(kept, sum(p.uncertainty for p in docs) / n))
    return out


def predict(members: list[tuple], method: str, texts: list[str], max_length: int = 256,
            batch_size: int = 32) -> list[Prediction]:
    """`members`: (model, tokenizer) pairs."""
    if method not in METHODS:
        raise EnsembleError(f"ensemble method {method!r}: expected one of {', '.join(METHODS)}")
    if method == "average":
        models = [m for m, _ in members]
        return predict_with_uncertainty(models, members[0][1], texts, max_length, batch_size)
    voted = vote([predict_with_uncertainty(m, t, texts, max_length, batch_size) for m, t in members])
    return [Prediction([{**s, "text": t[s["start"]:s["end"]]} for s in p.spans], p.uncertainty)
            for p, t in zip(voted, texts)]


@dataclass
class EnsemblePredictor:
    members: list  # (model, tokenizer) pairs
    method: str
    max_length: int = 256

    def predictions(self, texts: list[str], batch_size: int = 32) -> list[Prediction]:
        return predict(self.members, self.method, texts, self.max_length, batch_size)


def check_members(infos: list[dict], tokenizers, method: str) -> None:
    """Members of one label schema and label order; `average` also needs one tokenizer."""
    if len(infos) < 2:
        raise EnsembleError("an ensemble needs at least two versions")
    schemas = {i["label_schema_version"] for i in infos}
    if len(schemas) > 1 or len({tuple(i["labels"]) for i in infos}) > 1:
        raise EnsembleError("the versions were trained under different label schemas ("
                            + ", ".join(f"v{i['version']}: {i['label_schema_version']}" for i in infos) + ")")
    tainted = [i for i in infos if i["tainted_by"] or i["files_deleted_by"]]
    if tainted:
        raise EnsembleError(f"v{tainted[0]['version']} is tainted by erasure "
                            f"{tainted[0]['tainted_by'] or tainted[0]['files_deleted_by']}")
    if method == "average" and not same_tokenizer(tokenizers):
        raise EnsembleError("averaged probabilities need members with one tokenizer; use --method vote")


def register(store, stage, versions: list[int], method: str) -> dict:
    """Logs the members' weights as one pyfunc, registers it as a version of the model (its
    members and method as tags) and writes it to lineage derived from each member, so its
    records and datasets are its members'. `store`: MlflowStore; `stage`: StageLineage."""
    import json
    import tempfile

    import mlflow

    from lepton.ner.run import log_ensemble_model

    infos = [store.version(v) for v in versions]
    loaded = [store.load_ner(v) for v in versions]
    check_members(infos, [t for _, t in loaded], method)
    with tempfile.TemporaryDirectory(prefix="lepton-ensemble-") as tmp:
        dirs = []
        for v, (model, tokenizer) in zip(versions, loaded):
            d = f"{tmp}/v{v}"
            model.save_pretrained(d)
            tokenizer.save_pretrained(d)
            dirs.append(d)
        with store.start_run(tags={"lepton.ensemble": method}) as run:
            mlflow.log_params({"ensemble_members": ",".join(f"v{v}" for v in versions), "ensemble_method": method,
                               "label_schema_version": infos[0]["label_schema_version"]})
            mlflow.log_dict({"labels": infos[0]["labels"]}, "label_map.json")
            info = log_ensemble_model(dirs, method)
    reg = store.register(info.model_uri, run.info.run_id, 0.0, infos[0]["labels"], infos[0]["label_schema_version"],
                         model_id=info.model_id)
    store.tag_version(reg["version"], "ensemble", json.dumps({"members": versions, "method": method}))
    stage.add_ensemble_version(store.model_name, reg["version"], versions, method=method,
                               label_schema=infos[0]["label_schema_version"])
    return {**reg, "members": versions, "method": method, "run_id": run.info.run_id}
