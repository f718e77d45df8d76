"""The promotion policy: the thresholds and tolerances a reviewer signs off, read from
policy/promotion.yaml (or LEPTON_PROMOTION_POLICY), refused with the file and key named
when a value cannot be used."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import yaml


class PolicyError(ValueError):
    pass


@dataclass(frozen=True)
class Bootstrap:
    samples: int = 1000
    confidence: float = 0.95
    seed: int = 13


@dataclass(frozen=True)
class PromotionPolicy:
    f1_floor: float
    overall_tolerance: float
    label_tolerance: float
    slice_tolerance: float
    min_support: int
    min_documents: int
    require_sign_off: bool
    bootstrap: Bootstrap
    source: str = "(in memory)"

    @classmethod
    def load(cls, path: Path) -> "PromotionPolicy":
        doc = yaml.safe_load(Path(path).read_text()) or {}
        numbers = {"f1_floor": float, "overall_tolerance": float, "label_tolerance": float,
                   "slice_tolerance": float, "min_support": int, "min_documents": int}
        want = set(numbers) | {"require_sign_off", "bootstrap"}
        if not isinstance(doc, dict) or set(doc) != want:
            raise PolicyError(f"{path}: expected exactly the keys {sorted(want)}")
        for key, kind in numbers.items():
            value = doc[key]
            if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int) or value < 0:
                raise PolicyError(f"{path}: {key} must be a non-negative {kind.__name__}, not {value!r}")
        if not doc["f1_floor"] <= 1:
            raise PolicyError(f"{path}: f1_floor {doc['f1_floor']} must be at most 1")
        if not isinstance(doc["require_sign_off"], bool):
            raise PolicyError(f"{path}: require_sign_off must be true or false")
        boot = doc["bootstrap"]
        if not isinstance(boot, dict) or set(boot) != {"samples", "confidence", "seed"}:
            raise PolicyError(f"{path}: bootstrap needs exactly samples, confidence and seed")
        if not (isinstance(boot["samples"], int) and boot["samples"] >= 100):
            raise PolicyError(f"{path}: bootstrap.samples must be an integer of at least 100")
        if not (isinstance(boot["confidence"], float) and 0.5 <= boot["confidence"] < 1):
            raise PolicyError(f"{path}: bootstrap.confidence must be between 0.5 and 1")
        return cls(**{k: (kind(doc[k])) for k, kind in numbers.items()}, require_sign_off=doc["require_sign_off"],
                   bootstrap=Bootstrap(boot["samples"], boot["confidence"], int(boot["seed"])), source=str(path))

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "source"}
