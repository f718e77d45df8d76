"""A scripted annotator: a STAND-IN FOR PEOPLE, used by the demo and the tests only.

It works through Label Studio's API as two named users would: annotator A confirms each
task's pre-annotation (the input's labels or the model's guess); on every few tasks
annotator B gives a second opinion, and on some of those B disagrees (drops a span or
changes its label), so agreement, conflicts and their resolution have something to do.
Nothing here is used by the pipeline itself.
"""

from __future__ import annotations

import random

from lepton.annotation.schema import load_schema
from lepton.annotation.tasks import INPUT_MODEL_VERSION

ANNOTATORS = ("scripted-annotator-a@lepton.invalid", "scripted-annotator-b@lepton.invalid")


def ensure_annotators(studio) -> list[int]:
    users = {u.email: u.id for u in studio.call("list users", lambda: list(studio.client.users.list()))}
    ids = []
    for email in ANNOTATORS:
        if email not in users:
            u = studio.call(f"create user {email}", studio.client.users.create, email=email,
                            username=email.split("@")[0], first_name="Scripted (not a person)")
            users[email] = u.id
        ids.append(users[email])
    return ids


def _guess(task: dict) -> list[dict]:
    preds = task.get("predictions") or []
    chosen = next((p for p in preds if p.get("model_version") == INPUT_MODEL_VERSION), preds[0] if preds else None)
    if chosen is None:
        return []
    return [{k: v for k, v in r.items() if k != "score"} for r in chosen["result"]]


def _disagree(result: list[dict], rng: random.Random, labels: tuple[str, ...]) -> list[dict]:
    if not result:
        return result
    out = [dict(r, value=dict(r["value"])) for r in result]
    i = rng.randrange(len(out))
    if rng.random() < 0.5:
        del out[i]
    else:
        current = out[i]["value"]["labels"][0]
        others = [lab for lab in labels if lab != current]
        if others:
            out[i]["value"]["labels"] = [rng.choice(others)]
        else:
            del out[i]
    return out


def annotate(studio, project: int, second_opinion_every: int = 4, disagree_every: int = 3, seed: int = 13,
             limit: int | None = None, workers: int = 4, labels: tuple[str, ...] | None = None) -> dict:
    """Annotates every task that has no annotation yet; returns what it did. Several tasks
    are in flight at once, as with several people (1.7x faster than one at a time here).
    `labels`: what annotator B may relabel a span as (the configured schema's, by default)."""
    from concurrent.futures import ThreadPoolExecutor

    labels = tuple(labels or load_schema().names)
    a, b = ensure_annotators(studio)
    todo = [t for t in studio.tasks(project) if not t.get("annotations")][:limit]

    def one(n: int, task: dict) -> tuple[int, int]:
        result = _guess(task)
        studio.call(f"annotate task {task['id']}", studio.client.annotations.create, task["id"], result=result,
                    completed_by=a)
        if n % second_opinion_every:
            return 0, 0
        disagree = (n // second_opinion_every) % disagree_every == 0 and bool(result)
        second = _disagree(result, random.Random(seed * 1_000_003 + n), labels) if disagree else result
        studio.call(f"annotate task {task['id']}", studio.client.annotations.create, task["id"], result=second,
                    completed_by=b)
        return 1, int(disagree)

    with ThreadPoolExecutor(workers) as pool:
        done = list(pool.map(lambda nt: one(*nt), enumerate(todo, 1)))
    second_opinions, disagreements = sum(d[0] for d in done), sum(d[1] for d in done)
    return {"tasks": len(todo), "annotations": len(todo) + second_opinions, "second_opinions": second_opinions,
            "disagreements": disagreements}
