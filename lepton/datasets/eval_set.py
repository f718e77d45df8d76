"""The frozen evaluation set: records held out of every train and dev split of every
dataset version from the first on, so a challenger and the champion are scored on the
same records whatever batches arrive later.

Chosen once by a reviewed policy (policy/eval_set.yaml), stratified by rarest label and
source, near-duplicate families whole; stored like a dataset version (encrypted, a manifest
with per-record HMACs, tracked and pushed by DVC as dataset `eval-set`, its ids in the DVC
version index); it grows only by `lepton eval-set extend`, with a reason, from records no
dataset version has put in a train or dev split.
"""

from __future__ import annotations

import hashlib
import math
import shutil
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from lepton.corpus.records import Record
from lepton.crypto.keyring import Keyring
from lepton.datasets.split import rarest_label_strata
from lepton.datasets.version import finish_manifest, record_line, write_encrypted

EVAL_SET = "eval-set"  # its dataset name: DVC folder, version index and data key
SPLIT = "eval"


class EvalSetError(ValueError):
    """A policy file or an extension that cannot be used; names the file or the reason."""


@dataclass(frozen=True)
class EvalSetPolicy:
    fraction: float
    min_records: int
    max_records: int
    seed: int
    source: str = "(in memory)"

    @classmethod
    def load(cls, path: Path) -> "EvalSetPolicy":
        doc = yaml.safe_load(Path(path).read_text()) or {}
        want = {"fraction": float, "min_records": int, "max_records": int, "seed": int}
        if not isinstance(doc, dict) or set(doc) != set(want):
            raise EvalSetError(f"{path}: expected exactly the keys {sorted(want)}")
        for key, kind in want.items():
            if not isinstance(doc[key], (int, float) if kind is float else int) or isinstance(doc[key], bool):
                raise EvalSetError(f"{path}: {key} must be a {kind.__name__}")
        if not 0 < doc["fraction"] < 1:
            raise EvalSetError(f"{path}: fraction {doc['fraction']} must be between 0 and 1")
        if not 0 < doc["min_records"] <= doc["max_records"]:
            raise EvalSetError(f"{path}: need 0 < min_records <= max_records")
        return cls(float(doc["fraction"]), doc["min_records"], doc["max_records"], doc["seed"], str(path))

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "source"}


def choose(records: dict[str, Record], families: dict[str, str], policy: EvalSetPolicy,
           target: int | None = None) -> list[str]:
    """About `target` documents (default: the policy's fraction, within its bounds): whole
    families, each stratum of (rarest label, source) giving its share, in an order fixed by
    the seed, so the same records and policy always give the same set."""
    members: dict[str, list[str]] = defaultdict(list)
    for rid in records:
        members[families.get(rid, rid)].append(rid)
    strata = rarest_label_strata({rid: [s.label for s in r.spans] for rid, r in records.items()})
    by_stratum: dict[tuple[str, str], list[str]] = defaultdict(list)
    for family, ids in members.items():
        head = min(ids)
        by_stratum[(strata[head], records[head].source)].append(family)
    if target is None:
        target = min(policy.max_records, round(policy.fraction * len(records)))
    share = target / max(len(records), 1)
    picks: dict[tuple[str, str], list[str]] = {}
    for stratum in sorted(by_stratum):
        order = sorted(by_stratum[stratum],
                       key=lambda f: hashlib.sha256(f"{policy.seed}:{min(members[f])}".encode()).digest())
        picks[stratum] = order[:math.ceil(share * len(order))]
    # each stratum's share rounds up, so a rare one still gives a document; the excess comes
    # off the strata that gave most, their last picks first
    size = sum(len(members[f]) for fams in picks.values() for f in fams)
    while size > target:
        biggest = max(picks, key=lambda k: (len(picks[k]), k))
        if len(picks[biggest]) <= 1:
            break
        size -= len(members[picks[biggest].pop()])
    return sorted(rid for fams in picks.values() for f in fams for rid in members[f])


def current(store) -> dict | None:
    """The set in force (the last in the DVC version index): version, record ids, reason."""
    versions = store.versions(EVAL_SET)
    return versions[-1] if versions else None


def store_set(record_ids: list[str], records: dict[str, Record], store, keyring: Keyring, policy: EvalSetPolicy,
              reason: str, previous: str | None) -> dict:
    """Encrypts the set like a dataset version, tracks and pushes it, and records it in the
    version index; returns the index entry."""
    out = store.repo_dir / "datasets" / EVAL_SET
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    key_id, data_key = keyring.data_key_for(EVAL_SET)
    files = write_encrypted({SPLIT: [(rid, record_line(records[rid])) for rid in record_ids]}, out, data_key,
                             key_id, EVAL_SET)
    manifest = finish_manifest({"dataset": EVAL_SET, "key_id": key_id, "policy": policy.to_dict(),
                                 "reason": reason, "previous": previous}, files, data_key, out)
    version = store.add_and_push(out)["md5"].removesuffix(".dir")
    store.record_version(EVAL_SET, version, record_ids=record_ids, rows=len(record_ids), reason=reason,
                         previous=previous, key_id=key_id, merkle_root=manifest["merkle_root"],
                         policy=policy.to_dict())
    return current(store)


def add_to_lineage(stage, entry: dict, batches: list[tuple[str, str]] = ()) -> str:
    """A version of the set (its index entry) as a dataset-version node with its records in
    the ledger, derived from the version it extends; `stage` is a StageLineage."""
    nid = stage.add_dataset_version(entry["version"], list(batches), members={SPLIT: entry["record_ids"]},
                                    dataset=EVAL_SET, key_id=entry["key_id"], merkle_root=entry["merkle_root"],
                                    rows=entry["rows"], reason=entry["reason"])
    if entry.get("previous"):
        stage.add_derived(nid, f"dataset_version:{entry['previous']}")
    return nid


def freeze(records: dict[str, Record], families: dict[str, str], policy: EvalSetPolicy, store,
           keyring: Keyring) -> dict | None:
    """The set from the first dataset version's records, or None while there are fewer than
    the policy's minimum."""
    if len(records) < policy.min_records:
        return None
    ids = choose(records, families, policy)
    return store_set(ids, records, store, keyring, policy,
                     f"frozen from the first dataset version's {len(records)} documents by {Path(policy.source).name}",
                     previous=None)


def extend(records: dict[str, Record], families: dict[str, str], policy: EvalSetPolicy, store, keyring: Keyring,
           trained_on: set[str], count: int, reason: str) -> dict:
    """The set in force plus about `count` more documents, chosen like the first from the
    records no dataset version put in a train or dev split (`trained_on`), whole families."""
    if not reason.strip():
        raise EvalSetError("an extension needs a reason (--reason)")
    frozen = current(store)
    if frozen is None:
        raise EvalSetError("there is no evaluation set yet: the first dataset version freezes it")
    held = set(frozen["record_ids"])
    touched = {families.get(rid, rid) for rid in trained_on | held}
    fresh = {rid: r for rid, r in records.items() if families.get(rid, rid) not in touched}
    if not fresh:
        raise EvalSetError("every record is already held out or was trained on: nothing can be added")
    added = choose(fresh, families, policy, target=min(count, len(fresh)))
    kept = [rid for rid in frozen["record_ids"] if rid in records]
    return store_set(sorted(set(kept) | set(added)), records, store, keyring, policy, reason.strip(),
                     previous=frozen["version"])


def load_records(store, keyring: Keyring, tmp: Path) -> tuple[dict, list[Record]] | None:
    """The set in force and its records, verified as a restore verifies them: from the
    repository's folder when it holds that version, else fetched by its hash into `tmp`."""
    from lepton.datasets.version import load_split, read_manifest

    entry = current(store)
    if entry is None:
        return None
    folder = store.repo_dir / "datasets" / EVAL_SET
    try:
        held = read_manifest(folder).get("merkle_root")
    except FileNotFoundError:
        held = None
    if held != entry["merkle_root"]:
        folder = store.fetch_directory(entry["version"], Path(tmp) / EVAL_SET)
    return entry, load_split(folder, SPLIT, keyring)
