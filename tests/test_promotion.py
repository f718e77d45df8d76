"""The promotion gate: champion and challenger scored on the frozen evaluation set, every rule
of policy/promotion.yaml, forced promotions and rollback, with the real MLflow registry,
lineage store and audit log. The chain runs once for the module; the challengers are the
champion's own weights with a change a test can name (a head re-initialised, one label's
logits suppressed), registered as new versions the way `registered_model` registers one."""

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
import yaml
from click.testing import CliRunner

from lepton.cli import main
from lepton.corpus.records import Record, Span
from lepton.corpus.sample import write_sample
from lepton.promotion.gate import Facts, decide
from lepton.promotion.policy import Bootstrap, PolicyError, PromotionPolicy
from lepton.promotion.scoring import compare
from lepton.settings import Settings
from lepton.stores import audit_for, lineage_for, mlflow_for
from tests.chain import run_chain
from tests.conftest import REPO, enter_studio, enter_workspace

BOOT = Bootstrap(samples=300, confidence=0.95, seed=1)


def _rec(i: int, text: str, spans: list[tuple[int, int, str]], source: str = "a.jsonl") -> Record:
    return Record(record_id=f"r{i}", source=source, line=i, text=text,
                  spans=[Span(s, e, lab, text[s:e]) for s, e, lab in spans])


# --- scoring and rules, without services ------------------------------------------------

def test_scores_are_exact_character_spans_with_paired_intervals():
    recs = [_rec(i, "Ana met Bob in Oslo", [(0, 3, "PER"), (8, 11, "PER"), (15, 19, "LOC")]) for i in range(20)]
    gold = [[{"start": s.start, "end": s.end, "label": s.label} for s in r.spans] for r in recs]
    # the champion misses every LOC and mislabels half the second PER; the challenger is exact
    champion = [[g[0]] + ([g[1]] if i % 2 else [{**g[1], "label": "ORG"}]) for i, g in enumerate(gold)]
    out = compare(recs, gold, champion, ["PER", "LOC", "ORG"], BOOT)
    assert out["overall"]["challenger"]["f1"] == 1.0
    # champion: 30 of 60 gold right, 10 spurious ORG -> P 30/40, R 30/60
    assert out["overall"]["champion"]["f1"] == pytest.approx(2 * 0.75 * 0.5 / 1.25, abs=1e-4)
    assert out["labels"]["LOC"]["champion"]["f1"] == 0.0 and out["labels"]["LOC"]["delta"] == 1.0
    lo, hi = out["overall"]["delta_ci"]
    assert lo <= out["overall"]["delta"] <= hi and lo > 0
    assert out["slices"]["source=a.jsonl"]["documents"] == 20
    # a span one character off is wrong, not half right
    shifted = [[{**g[0], "end": 2}] + g[1:] for g in gold]
    assert compare(recs, shifted, None, ["PER"], BOOT)["labels"]["PER"]["challenger"]["recall"] == 0.5


def _comparison(overall_delta: float, per_label: dict[str, float]) -> dict:
    def entry(delta, support=20):
        return {"challenger": {"f1": 0.8 + delta, "support": support, "ci": [0, 1]},
                "champion": {"f1": 0.8, "support": support, "ci": [0, 1]}, "delta": delta, "delta_ci": [delta - .1, delta + .1]}
    return {"documents": 40, "overall": entry(overall_delta), "labels": {k: entry(v) for k, v in per_label.items()},
            "slices": {"source=a": {**entry(0.0), "documents": 40}}}


def _policy(**kw) -> PromotionPolicy:
    base = dict(f1_floor=0.5, overall_tolerance=0.01, label_tolerance=0.05, slice_tolerance=0.05, min_support=5,
                min_documents=5, require_sign_off=False, bootstrap=BOOT)
    return PromotionPolicy(**{**base, **kw})


FACTS = Facts(tainted_by=None, schema_version="s1", current_schema="s1", sign_off=None)


def test_each_rule_refuses_by_name():
    policy = _policy()
    assert decide(_comparison(0.0, {"PER": 0.0, "LOC": 0.02}), FACTS, policy, 2, 1).passed
    one_label = decide(_comparison(0.0, {"PER": 0.0, "LOC": -0.2}), FACTS, policy, 2, 1)
    assert one_label.refused_by == ["label.LOC.not_worse"]
    assert decide(_comparison(-0.05, {"PER": 0.0}), FACTS, policy, 2, 1).refused_by == ["overall.not_worse"]
    tainted = Facts(tainted_by="erasure-1", schema_version="s1", current_schema="s1", sign_off=None)
    assert decide(_comparison(0.1, {}), tainted, policy, 2, 1).refused_by == ["model.not_tainted"]
    other_schema = Facts(tainted_by=None, schema_version="s0", current_schema="s1", sign_off=None)
    assert decide(_comparison(0.1, {}), other_schema, policy, 2, 1).refused_by == ["schema.matches"]
    signing = _policy(require_sign_off=True)
    assert decide(_comparison(0.1, {}), FACTS, signing, 2, 1).refused_by == ["review.signed_off"]
    approved = Facts(tainted_by=None, schema_version="s1", current_schema="s1", sign_off="approved")
    assert decide(_comparison(0.1, {}), approved, signing, 2, 1).passed
    # a label with too little support is reported, not ruled on
    sparse = _comparison(0.0, {"MISC": -0.5})
    sparse["labels"]["MISC"]["champion"]["support"] = 2
    assert decide(sparse, FACTS, policy, 2, 1).passed
    # a tainted champion must go: its better scores are not held against the challenger
    champion_tainted = Facts(tainted_by=None, schema_version="s1", current_schema="s1", sign_off=None,
                             champion_tainted_by="erasure-2")
    assert decide(_comparison(-0.3, {"PER": -0.3}), champion_tainted, policy, 2, 1).passed


def test_a_policy_file_with_a_bad_value_is_refused_naming_the_file_and_key(tmp_path):
    good = yaml.safe_load((REPO / "policy" / "promotion.yaml").read_text())
    assert PromotionPolicy.load(REPO / "policy" / "promotion.yaml").f1_floor == good["f1_floor"]
    bad = tmp_path / "promotion.yaml"
    bad.write_text(yaml.safe_dump({**good, "label_tolerance": -1}))
    with pytest.raises(PolicyError, match=r"promotion\.yaml: label_tolerance must be a non-negative float"):
        PromotionPolicy.load(bad)
    bad.write_text(yaml.safe_dump({k: v for k, v in good.items() if k != "f1_floor"}))
    with pytest.raises(PolicyError, match="expected exactly the keys"):
        PromotionPolicy.load(bad)


# --- the gate on real versions ------------------------------------------------------------

@dataclass
class Registry:
    s: Settings
    env: dict
    tmp: Path
    instance: dg.DagsterInstance


def _write_policy(path: Path, **changes) -> Path:
    doc = yaml.safe_load((REPO / "tests" / "policy" / "promotion.yaml").read_text())
    path.write_text(yaml.safe_dump({**doc, **changes}))
    return path


@pytest.fixture(scope="module")
def registry(label_studio, tmp_path_factory):
    """One chain: a frozen evaluation set of ~45 documents and champion v1."""
    tmp = tmp_path_factory.mktemp("promotion")
    with pytest.MonkeyPatch.context() as mp:
        env = enter_studio(enter_workspace(tmp / "ws", mp), label_studio, mp)
        eval_policy = tmp / "eval_set.yaml"
        eval_policy.write_text(yaml.safe_dump({"fraction": 0.3, "min_records": 20, "max_records": 2000, "seed": 13}))
        mp.setenv("LEPTON_EVAL_SET_POLICY", str(eval_policy))
        s = Settings.from_env()
        write_sample(s.landing_dir, 150, seed=5, conll_share=0.0)
        (tmp / "dagster").mkdir()
        with dg.instance_for_test(temp_dir=str(tmp / "dagster")) as instance:
            chain = run_chain(s, instance)
            [gate] = [c for c in chain.final.get_asset_check_evaluations() if c.check_name == "promotion_gate"]
            assert gate.passed, gate.description
            yield Registry(s, env, tmp, instance)


def _variant(r: Registry, change) -> int:
    """v1's weights changed by `change(model)`, logged and registered as a new version (with
    its lineage node) as `registered_model` registers a trained one."""
    import mlflow

    from lepton.lineage.events import StageLineage
    from lepton.ner.run import log_span_model

    store = mlflow_for(r.s)
    v1 = store.version(1)
    model, tokenizer = store.load_ner(1)
    change(model)
    with tempfile.TemporaryDirectory() as d:
        model.save_pretrained(d)
        tokenizer.save_pretrained(d)
        with store.start_run(tags={"lepton.test_variant": "true"}) as run:
            mlflow.log_params({"dataset_version": v1["dataset_version"]})
            info = log_span_model(d)
    reg = store.register(info.model_uri, run.info.run_id, 0.0, v1["labels"], v1["label_schema_version"],
                         model_id=info.model_id)
    StageLineage(lineage_for(r.s), "test", "test").add_model_version(r.s.model_name, reg["version"], v1["run_id"],
                                                                    dataset_version=v1["dataset_version"])
    return reg["version"]


def _scramble(model) -> None:
    import torch

    torch.manual_seed(0)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.5)


def _suppress(label: str):
    def change(model) -> None:
        import torch

        with torch.no_grad():
            for tag, i in model.config.label2id.items():
                if tag.endswith("-" + label):
                    model.classifier.weight[i] = 0
                    model.classifier.bias[i] = -1e4
    return change


def _cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _champion(r: Registry) -> int:
    return mlflow_for(r.s).champion()["version"]


def _decisions(r: Registry, version: int) -> list[dict]:
    return [n.attrs for n in lineage_for(r.s).find("promotion_decision")
            if n.name.startswith(f"{r.s.model_name}/{version}@")]


def _audit(r: Registry, action: str) -> list[dict]:
    return [json.loads(line) for line in Path(r.s.layout.audit_log).read_text().splitlines()
            if json.loads(line)["action"] == action]


def test_a_worse_challenger_is_refused_and_the_champion_stays(registry):
    worse = _variant(registry, _scramble)
    out = _cli("promote", str(worse))
    assert out.exit_code == 1 and "refused by" in out.output and "overall.not_worse" in out.output
    assert _champion(registry) == 1
    [decision] = _decisions(registry, worse)
    assert decision["outcome"] == "refused" and "overall.not_worse" in decision["refused_by"]
    [entry] = [e for e in _audit(registry, "model.promotion") if e["subject"].endswith(f"/{worse}")]
    assert entry["details"]["outcome"] == "refused" and "overall.not_worse" in entry["details"]["refused_by"]
    # the evidence is in MLflow too: the comparison on the challenger's run and a tag on the version
    client = mlflow_for(registry.s).client()
    mv = client.get_model_version(registry.s.model_name, str(worse))
    assert mv.tags["promotion"].startswith("refused: ") and "overall.not_worse" in mv.tags["promotion"]
    logged = [a.path for a in client.list_artifacts(mv.run_id, "evaluation")]
    assert logged == [f"evaluation/{registry.s.model_name}-v{worse}-vs-v1.json"]
    # the comparison itself, as JSON, says the same
    compared = json.loads(_cli("models", "compare", str(worse), "1", "--json").stdout)
    assert compared["report"]["overall"]["delta"] < -0.05 and not compared["decision"]["passed"]
    assert compared["report"]["scored_on"]["kind"] == "frozen"
    # ...and the steward's review pack shows the refusal and its rule
    pack = registry.tmp / f"pack-{worse}.html"
    assert _cli("lineage", "review-pack", str(worse), "--out", str(pack)).exit_code == 0
    html = pack.read_text()
    section = html[html.index('<section id="promotion"'):html.index('<section id="approval"')]
    assert "refused" in section and "overall.not_worse" in section and "v1" in section


def test_a_regression_on_one_label_alone_is_refused(registry, monkeypatch):
    # the champion's best-supported label on the frozen set
    report = json.loads(_cli("models", "compare", "1", "--json").stdout)["report"]
    label = max(report["labels"], key=lambda k: report["labels"][k]["challenger"]["support"])
    broken = _variant(registry, _suppress(label))
    # overall and slice tolerances wide open: only the label's own rule can refuse it
    monkeypatch.setenv("LEPTON_PROMOTION_POLICY", str(_write_policy(
        registry.tmp / "label-only.yaml", overall_tolerance=1.0, slice_tolerance=1.0, label_tolerance=0.05)))
    out = _cli("promote", str(broken))
    assert out.exit_code == 1 and _champion(registry) == 1
    [decision] = _decisions(registry, broken)
    # its words go to other labels (a head cannot lose a label without another gaining its
    # words), so those labels may regress too; the overall rule still lets it through
    assert f"label.{label}.not_worse" in decision["refused_by"], decision["rules"]
    assert all(r.startswith("label.") for r in decision["refused_by"])
    assert {r["name"]: r["passed"] for r in decision["rules"]}["overall.not_worse"] is True


def test_forced_promotion_needs_a_reason_is_recorded_and_rollback_restores(registry):
    worse = _variant(registry, _scramble)
    out = CliRunner().invoke(main, ["promote", str(worse), "--force"])
    assert out.exit_code != 0 and "needs a reason" in out.output and _champion(registry) == 1
    out = _cli("promote", str(worse), "--force", "--reason", "incident 42: the champion misbehaves in production")
    assert out.exit_code == 0, out.output
    assert _champion(registry) == worse
    [decision] = _decisions(registry, worse)
    assert decision["outcome"] == "forced" and decision["forced"] and decision["refused_by"]
    assert decision["reason"].startswith("incident 42")
    [entry] = [e for e in _audit(registry, "model.promotion") if e["subject"].endswith(f"/{worse}")]
    assert entry["details"]["forced"] and entry["details"]["reason"].startswith("incident 42")

    # a copy of v1 is better than the forced champion: the gate lets it through
    copy = _variant(registry, lambda m: None)
    out = _cli("promote", str(copy))
    assert out.exit_code == 0, out.output
    assert _champion(registry) == copy
    [passed] = _decisions(registry, copy)
    assert passed["outcome"] == "promoted" and passed["champion"] == worse
    store = lineage_for(registry.s)
    moves = [n for n in store.find("alias_change") if n.attrs["version"] == copy]
    assert [p for p, _ in store.parents(moves[0].node_id)] == [f"promotion_decision:{registry.s.model_name}/{copy}@"
                                                               + moves[0].name.split("@")[-1]]

    # rollback: the version before it takes the alias back, recorded
    out = _cli("rollback", "--reason", "latency regression")
    assert out.exit_code == 0, out.output
    assert _champion(registry) == worse
    back = [n for n in store.find("alias_change") if n.attrs.get("rollback")]
    assert back and back[-1].attrs["version"] == worse and back[-1].attrs["previous"] == copy
    assert _audit(registry, "model.rollback")[-1]["details"]["reason"] == "latency regression"
    # leave v1's copy as champion for the next tests
    assert _cli("promote", str(copy)).exit_code == 0 and _champion(registry) == copy


def test_a_tainted_unsigned_or_weak_model_is_refused(registry, monkeypatch):
    from lepton.lineage.pack import sign_off

    store = mlflow_for(registry.s)
    tainted = _variant(registry, lambda m: None)
    store.taint(tainted, "erasure-test")
    out = _cli("promote", str(tainted))
    assert out.exit_code == 1 and _decisions(registry, tainted)[0]["refused_by"] == ["model.not_tainted"]
    out = CliRunner().invoke(main, ["promote", str(tainted), "--force", "--reason", "please"])
    assert out.exit_code != 0 and "no reason can promote it" in out.output

    monkeypatch.setenv("LEPTON_PROMOTION_POLICY", str(_write_policy(registry.tmp / "floor.yaml", f1_floor=0.99)))
    below = _variant(registry, lambda m: None)
    out = _cli("promote", str(below))
    assert out.exit_code == 1 and _decisions(registry, below)[0]["refused_by"] == ["f1.floor"]

    monkeypatch.setenv("LEPTON_PROMOTION_POLICY", str(_write_policy(registry.tmp / "sign-off.yaml",
                                                                    require_sign_off=True)))
    unsigned = _variant(registry, lambda m: None)
    out = _cli("promote", str(unsigned))
    assert out.exit_code == 1 and _decisions(registry, unsigned)[0]["refused_by"] == ["review.signed_off"]
    sign_off(lineage_for(registry.s), audit_for(registry.s), store, registry.s.model_name, unsigned, "approved",
             "steward-a", "read the pack", None)
    out = _cli("promote", str(unsigned))
    assert out.exit_code == 0, out.output
    assert _champion(registry) == unsigned
    assert sorted(d["outcome"] for d in _decisions(registry, unsigned)) == ["promoted", "refused"]


def test_a_promotion_reruns_predictions_by_automation_and_refreshes_unannotated_tasks(registry, monkeypatch):
    """After a promotion: the champion_watch sensor records the move, the predictions of every
    batch turn stale and their automation condition requests them, then annotation_tasks,
    which gives the new champion's pre-annotations to the tasks nobody has annotated."""
    from lepton.stores import studio_for
    from pipelines.batches import register_landing
    from pipelines.champion import champion_watch
    from pipelines.definitions import build_definitions, build_resources
    from tests.chain import tick

    instance = registry.instance
    monkeypatch.setenv("LEPTON_INPUT_LABELS", "ignore")  # the new batch arrives unlabelled
    s = Settings.from_env()
    texts = ["Ana Silva met Bob at Acme in Oslo.", "Dr. Lee of Globex flew to Lima on Monday.",
             "Mrs. Tanaka joined Initech in Kyoto.", "The weather is nice today."]
    (s.landing_dir / "fresh.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    [fresh] = register_landing(s, instance)
    defs = build_definitions(s)
    defs.resolve_job_def("ingest_batch").execute_in_process(instance=instance, partition_key=fresh)
    before = mlflow_for(s).champion()["version"]
    resources = build_resources(s)
    cursor = tick(champion_watch, instance, resources).cursor  # the watch knows the champion in force
    auto = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert auto.total_requested == 0, "nothing is stale before the champion moves"

    new = _variant(registry, lambda m: None)
    assert _cli("promote", str(new)).exit_code == 0 and _champion(registry) == new != before
    moved = tick(champion_watch, instance, resources, cursor)
    [event] = moved.asset_events
    assert event.metadata["version"].value == new and moved.cursor == str(new)
    instance.report_runless_asset_event(event)  # what the daemon does with a sensor's asset events

    auto = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=auto.cursor)
    batches = instance.get_dynamic_partitions("batches")
    assert set(auto.get_requested_partitions(dg.AssetKey("predictions"))) == set(batches) and len(batches) == 2
    # annotation_tasks reads them: Dagster requests it in the same tick, to run after them
    assert set(auto.get_requested_partitions(dg.AssetKey("annotation_tasks"))) == set(batches)
    assert auto.total_requested == 2 * len(batches)
    job = defs.resolve_implicit_global_asset_job_def()
    runs = {key: job.execute_in_process(instance=instance, partition_key=key, asset_selection=[
        dg.AssetKey("predictions"), dg.AssetKey("annotation_tasks")]) for key in batches}
    auto = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=auto.cursor)
    assert auto.total_requested == 0, "once re-run, nothing is stale"

    # lineage: each batch's predictions by the new champion, from its cleaned records
    store = lineage_for(s)
    for key in batches:
        node = store.get(f"prediction_batch:{key}@{s.model_name}/{new}")
        assert node is not None and sorted(p for p, _ in store.parents(node.node_id)) == [
            f"clean_batch:{key}", f"model_version:{s.model_name}/{new}"]
    # Label Studio: the unannotated tasks now hold the new champion's pre-annotations; the
    # annotated ones (the first batch's, labelled on arrival) were left alone
    studio = studio_for(s)
    project = studio.find_project(s.ls_project)
    tasks = studio.tasks(project)
    fresh_tasks = [t for t in tasks if t["data"]["record_batch"] == fresh]
    assert len(fresh_tasks) == len(texts) and not any(t["annotations"] for t in fresh_tasks)
    for t in fresh_tasks:  # the new champion's guesses replace the old one's, scores and all
        assert [p["model_version"] for p in t["predictions"]] == [f"{s.model_name}/v{new}"], t["predictions"]
        assert 0 <= t["predictions"][0]["score"] <= 1 and t["predictions"][0]["result"] is not None
    annotated = [t for t in tasks if t["annotations"]]
    assert annotated and not any(p["model_version"] == f"{s.model_name}/v{new}" for t in annotated
                                 for p in t["predictions"])
    meta = {k: {m: v.value for m, v in e.materialization.metadata.items()}
            for k, r in runs.items() for e in r.get_asset_materialization_events()
            if e.asset_key.path == ["annotation_tasks"]}
    assert meta[fresh]["pre_annotations_refreshed"] == len(texts)
    assert sum(m["pre_annotations_refreshed"] for m in meta.values()) == len(texts)


def test_an_ensemble_is_registered_with_its_members_and_a_vote_outvotes_a_broken_member(registry):
    """v1, a copy of it and a scrambled model: the vote keeps v1's spans (two of three agree),
    so on the frozen set it scores what v1 scores; averaging the three blurs them."""
    copy, broken = _variant(registry, lambda m: None), _variant(registry, _scramble)
    out = _cli("models", "ensemble", "1", str(copy), str(broken), "--method", "vote")
    assert out.exit_code == 0, out.output
    voted = int(out.stdout.split(":")[0].split(" v")[1])
    store = lineage_for(registry.s)
    node = f"model_version:{registry.s.model_name}/{voted}"
    assert sorted(store.parents(node)) == sorted((f"model_version:{registry.s.model_name}/{v}", "ensemble-of")
                                                 for v in (1, copy, broken))
    # its records are its members': the lineage walk reaches their dataset version
    from lepton.lineage.queries import dataset_of_model
    assert dataset_of_model(store, node) == dataset_of_model(store, f"model_version:{registry.s.model_name}/1")
    report = json.loads(_cli("models", "compare", str(voted), "1", "--json").stdout)["report"]
    assert report["overall"]["delta"] == 0.0 and report["overall"]["challenger"]["f1"] > 0
    out = _cli("models", "ensemble", "1", str(copy), str(broken), "--method", "average")
    averaged = int(out.stdout.split(":")[0].split(" v")[1])
    blurred = json.loads(_cli("models", "compare", str(averaged), "1", "--json").stdout)["report"]
    assert blurred["overall"]["challenger"]["f1"] != report["overall"]["challenger"]["f1"]
    # members of another schema cannot be combined
    other = _variant(registry, lambda m: None)
    mlflow_for(registry.s).tag_version(other, "label_schema_version", "another")
    refused = CliRunner().invoke(main, ["models", "ensemble", "1", str(other)])
    assert refused.exit_code != 0 and "different label schemas" in refused.output
