"""History export as JSON or YAML (``.json`` / ``.yaml`` / ``.yml``).

YAML goes through PyYAML's ``safe_dump`` (block style, keys in the server's order, Unicode kept):
the well-kept emitter gets quoting, multi-line strings and YAML 1.1's ``yes``/``no`` pitfalls
right, which a hand-written one has to rediscover."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

__all__ = ["export_items", "to_yaml"]


#: line breaks that PyYAML 6 writes unescaped with ``allow_unicode`` and then reads back as
#: whitespace: strings holding one are double-quoted (escaped) instead
_YAML_BREAKS = ("\x85", "\u2028", "\u2029")


class _Dumper(yaml.SafeDumper):
    """safe_dump's dumper, with tracebacks and other multi-line text as ``|`` blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = None
    if any(b in value for b in _YAML_BREAKS):
        style = '"'
    elif "\n" in value:
        style = "|"  # PyYAML falls back to quoting when a block cannot reproduce the text
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def to_yaml(data: Any) -> str:
    """Block-style YAML for JSON-shaped data; anything else is written as its ``str()``."""
    plain = json.loads(json.dumps(data, ensure_ascii=False, default=str))
    return yaml.dump(plain, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=False, width=100)


def export_items(items: Sequence[Mapping[str, Any]], path: str | Path) -> None:
    """Write ``items`` to ``path`` as JSON (``.json``) or YAML (``.yaml``/``.yml``).

    Raises ``ValueError`` for any other extension and ``OSError`` if the file can't be written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    data = [dict(item) for item in items]
    if suffix == ".json":
        text = json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"
    elif suffix in (".yaml", ".yml"):
        text = to_yaml(data)
    else:
        raise ValueError(f"Unknown file type {suffix or '(none)'!r}: use .json, .yaml or .yml")
    path.write_text(text, encoding="utf-8")
