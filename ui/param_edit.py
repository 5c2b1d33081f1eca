"""Change one dated value of a parameter file, leaving every other line as it was; and
add a service's entry to the catalogue the same way.

The staff form used to load the file, change the value and dump it again with PyYAML:
the saved diff then showed every line re-quoted and the comments gone. ruamel.yaml's
round-trip mode keeps what PyYAML drops (comments, flow or block style, quoting, key
order): every parameter file and catalog.yaml of the real rules load and dump back byte
for byte with the settings below (tests/test_staff_edit.py checks it), so only the lines
of the entry that changes differ. The result is read back with ``yaml.safe_load`` to make
sure it says what was meant.
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError as RoundTripError


class ParamEditError(ValueError):
    pass


def round_trip() -> YAML:
    """The settings under which the rules' own files round-trip unchanged: two-space
    mappings, sequences indented two inside their key with the dash, no line folding."""
    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 1_000_000
    rt.indent(mapping=2, sequence=4, offset=2)
    return rt


def _load(text: str) -> Any:
    try:
        return round_trip().load(text)
    except RoundTripError as exc:
        raise ParamEditError(f"not valid YAML: {exc}") from None


def _dump(document: Any) -> str:
    out = io.StringIO()
    round_trip().dump(document, out)
    return out.getvalue()


def _flow(value: Any) -> Any:
    """``value`` as ruamel nodes written in flow style, as the files write their values."""
    if isinstance(value, dict):
        node = CommentedMap((k, _flow(v)) for k, v in value.items())
        node.fa.set_flow_style()
        return node
    if isinstance(value, list):
        seq = CommentedSeq(_flow(v) for v in value)
        seq.fa.set_flow_style()
        return seq
    return value


def set_value(text: str, day: date | str, value: Any) -> str:
    """``text`` with the value in force from ``day`` set to ``value`` (added when new)."""
    key = date.fromisoformat(str(day))
    document = _load(text)
    values = document.get("values") if isinstance(document, dict) else None
    if not isinstance(values, CommentedMap):
        raise ParamEditError("the file has no 'values' block")
    found = next((k for k in values if str(k) == key.isoformat()), None)
    if found is not None:
        entry = values[found]
        if isinstance(entry, CommentedMap):
            entry["value"] = _flow(value)
        else:
            values[found] = _flow({"value": value})
    else:
        keys = [str(k) for k in values]
        later = [i for i, k in enumerate(keys) if k > key.isoformat()]
        at = later[0] if later and keys == sorted(keys) else len(keys)
        values.insert(at, key, _flow({"value": value}))
    new = _dump(document)
    got_values = (yaml.safe_load(new) or {}).get("values") or {}
    got = got_values.get(key, got_values.get(key.isoformat()))
    if not isinstance(got, dict) or got.get("value") != value:
        raise ParamEditError(f"could not place the value dated {key} in the file")
    return new


def add_service(catalogue: str, entry: str) -> str:
    """catalog.yaml's text with ``entry`` (``service-id: {…}``, as YAML) added at the end of
    its ``services``; every other line stays as it was."""
    document = _load(catalogue)
    added = _load(entry)
    services = document.get("services") if isinstance(document, dict) else None
    if not isinstance(services, CommentedMap):
        raise ParamEditError("catalog.yaml has no 'services' block")
    if not isinstance(added, CommentedMap) or len(added) != 1:
        raise ParamEditError("the entry is one service: its id, then its fields indented below it")
    (sid, fields), *_ = added.items()
    if sid in services:
        raise ParamEditError(f"the catalogue already has a service {sid!r}")
    services[sid] = fields
    return _dump(document)
