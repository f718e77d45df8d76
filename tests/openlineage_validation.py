"""OpenLineage event validation for the tests: every event Lepton sends is rebuilt through
openlineage-python's own classes, and our custom facets are checked against their published
JSON schemas (lepton/lineage/facets/). Test-only, so it lives here, not in the package."""

from __future__ import annotations

import json
import types
import typing
from enum import Enum
from functools import cache
from importlib import import_module, resources
from pkgutil import iter_modules
from urllib.parse import urlparse

import attr
from openlineage.client.event_v2 import DatasetEvent, JobEvent, RunEvent
from openlineage.client.generated.base import BaseFacet, DatasetFacet

from lepton.lineage.openlineage import CUSTOM_FACETS


class InvalidEvent(ValueError):
    pass


_RULES = {
    "eventTime": "must be an ISO-8601 date-time with a time part",
    "runId": "must be a UUID",
}
_URI_FIELDS = ("producer", "schemaURL", "_producer", "_schemaURL")


def validate_event(event: dict) -> None:
    """Rebuilds the event through openlineage-python's own classes, so the spec's rules are the
    library's rules (not a copy of them that drifts); on top of that every facet must say who
    produced it and where its schema is, and our facets must match their published schema."""
    if not isinstance(event, dict):
        raise InvalidEvent("event: must be a JSON object")
    if "run" in event:
        cls: type = RunEvent
    elif "dataset" in event:
        cls = DatasetEvent
    else:
        cls = JobEvent
    for key in ("producer", "schemaURL", "eventTime"):
        if key not in event:
            raise InvalidEvent(f"{key}: required")
    _build(cls, event, "")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _check_uri(path: str, value: object) -> None:
    parsed = urlparse(value) if isinstance(value, str) else None
    if not parsed or not parsed.scheme or not parsed.netloc:
        raise InvalidEvent(f"{path}: must be an absolute URI, got {value!r}")


def _build(cls: type, data: object, path: str, extra_ok: bool = False):
    if not isinstance(data, dict):
        raise InvalidEvent(f"{path or 'event'}: must be a JSON object")
    fields = {a.name: a for a in attr.fields(cls)}
    if not extra_ok and (unknown := sorted(set(data) - set(fields))):
        raise InvalidEvent(f"{_join(path, unknown[0])}: not a field of {cls.__name__}")
    hints = _hints(cls)
    kwargs = {}
    for name, a in fields.items():
        sub = _join(path, name)
        if name in _URI_FIELDS and name in data:
            _check_uri(sub, data[name])
        if not a.init:
            continue  # schemaURL / _schemaURL: the class fixes them; checked as URIs above
        if name not in data:
            if a.default is attr.NOTHING:
                raise InvalidEvent(f"{sub}: required")
            continue
        value = _convert(hints[name], data[name], sub)
        if a.validator is not None:
            try:
                a.validator(None, a, value)
            except (ValueError, TypeError) as e:
                raise InvalidEvent(f"{sub}: {_RULES.get(name, 'invalid')} ({e})") from None
        kwargs[a.alias] = value
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as e:
        raise InvalidEvent(f"{path or 'event'}: {e}") from None


def _convert(tp: object, value: object, path: str):
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        arms = [a for a in args if a is not type(None)]
        return _convert(arms[0], value, path) if len(arms) == 1 else value
    if origin is list:
        if not isinstance(value, list):
            raise InvalidEvent(f"{path}: must be an array")
        return [_convert(args[0], v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise InvalidEvent(f"{path}: must be an object")
        if isinstance(args[1], type) and issubclass(args[1], BaseFacet):
            return {k: _facet(k, args[1], v, _join(path, k)) for k, v in value.items()}
        return {k: _convert(args[1], v, _join(path, k)) for k, v in value.items()}
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(value)
        except ValueError:
            raise InvalidEvent(f"{path}: must be one of {[m.value for m in tp]}, got {value!r}") from None
    if isinstance(tp, type) and attr.has(tp):
        return _build(tp, value, path)
    if tp in (str, int, float, bool):
        ok = isinstance(value, tp) if tp is not float else isinstance(value, (int, float))
        if not ok or (tp is not bool and isinstance(value, bool)):
            raise InvalidEvent(f"{path}: must be a {tp.__name__}, got {type(value).__name__}")
    return value


def _facet(key: str, slot: type[BaseFacet], data: object, path: str) -> BaseFacet:
    if not isinstance(data, dict):
        raise InvalidEvent(f"{path}: a facet must be a JSON object")
    for required in ("_producer", "_schemaURL"):
        if required not in data:
            raise InvalidEvent(f"{path}.{required}: required on every facet")
    if key in CUSTOM_FACETS and slot is DatasetFacet:
        cls = CUSTOM_FACETS[key]
        _check_custom(cls, data, path)
        return _build(cls, data, path)
    _check_uri(f"{path}._schemaURL", data["_schemaURL"])
    cls = _standard_facets().get(urlparse(data["_schemaURL"]).fragment.rpartition("/")[2], slot)
    if not issubclass(cls, slot):
        raise InvalidEvent(f"{path}: a {cls.__name__} cannot stand where a {slot.__name__} goes")
    return _build(cls, data, path, extra_ok=True)  # the spec lets facets carry more


def _check_custom(cls: type, data: dict, path: str) -> None:
    import jsonschema

    name = cls.__name__
    for err in jsonschema.Draft202012Validator(_custom_schema(name)).iter_errors(data):
        where = ".".join(str(p) for p in err.absolute_path)
        raise InvalidEvent(f"{_join(path, where) if where else path}: {err.message} "
                           f"(schema {name}, rule {err.validator})")
    if data["_schemaURL"] != cls._get_schema():
        raise InvalidEvent(f"{path}._schemaURL: must be {cls._get_schema()}")


@cache
def _custom_schema(name: str) -> dict:
    doc = json.loads(resources.files("lepton.lineage").joinpath("facets", f"{name}.json").read_text("utf-8"))
    return {"$schema": doc["$schema"], "$defs": doc["$defs"], "$ref": f"#/$defs/{name}"}


@cache
def _standard_facets() -> dict[str, type[BaseFacet]]:
    """Every facet class the library ships, by the `$defs` name its schema URL ends in, so a
    facet from another producer or an older spec version still meets its own class."""
    import openlineage.client.generated as generated

    found: dict[str, type[BaseFacet]] = {}
    for info in iter_modules(generated.__path__):
        if info.name == "base":  # the abstract slots; an unknown facet falls back to its slot
            continue
        module = import_module(f"{generated.__name__}.{info.name}")
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, BaseFacet) and obj.__module__ == module.__name__:
                found[obj.__name__] = obj
    return found


@cache
def _hints(cls: type) -> dict[str, object]:
    return typing.get_type_hints(cls)
