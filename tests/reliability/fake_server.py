"""An in-process RE Manager stand-in behind FakeTransport, and a checker for what was sent.

``valid_request`` encodes what "a valid request" means for the fuzz tests: a method the server
dispatches, only parameters that method accepts, strict JSON (no NaN/Infinity), and items of the
documented shape (re-manager-protocol.md §5.1). Plan-level validation is the server's job.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from qs_gui.client import REManagerAPI
from tests.client.fakes import FakeTransport, status_reply

DATA = Path(__file__).resolve().parents[1] / "data"
PLANS = json.loads((DATA / "sim_plans_allowed.json").read_text())["plans_allowed"]
DEVICES = json.loads((DATA / "sim_devices_allowed.json").read_text())["devices_allowed"]

ITEM_PARAMS = {"user", "user_group", "lock_key"}
ALLOWED_PARAMS: dict[str, set[str]] = {
    "queue_item_add": {"item", "pos", "before_uid", "after_uid"} | ITEM_PARAMS,
    "queue_item_add_batch": {"items", "pos", "before_uid", "after_uid"} | ITEM_PARAMS,
    "queue_item_execute": {"item"} | ITEM_PARAMS,
    "queue_item_update": {"item", "replace"} | ITEM_PARAMS,
    "queue_item_remove": {"uid", "pos", "lock_key"},
    "queue_item_remove_batch": {"uids", "ignore_missing", "lock_key"},
    "queue_item_move": {"uid", "pos", "pos_dest", "before_uid", "after_uid", "lock_key"},
    "queue_item_move_batch": {"uids", "pos_dest", "before_uid", "after_uid", "reorder",
                              "lock_key"},
}
READS = {"status", "ping", "queue_get", "history_get", "plans_allowed", "devices_allowed",
         "lock_info"}


def item_problem(item: Any, *, entry: bool = False) -> str | None:
    """Why ``item`` is not a well-formed queue item (None if it is)."""
    if not isinstance(item, Mapping):
        return "not an object"
    if item.get("item_type") not in ("plan", "instruction", "function"):
        return f"item_type {item.get('item_type')!r}"
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        return f"name {name!r}"
    if entry and (name != name.strip() or any(c.isspace() for c in name)):
        return f"name {name!r} has spaces"
    if "args" in item and not isinstance(item["args"], list):
        return "args not a list"
    if "kwargs" in item and not (isinstance(item["kwargs"], dict)
                                 and all(isinstance(k, str) for k in item["kwargs"])):
        return "kwargs not an object with string keys"
    meta = item.get("meta")
    if meta is not None and not (isinstance(meta, dict) or (
            isinstance(meta, list) and all(isinstance(m, dict) for m in meta))):
        return "meta not an object or a list of objects"
    extra = set(item) - {"item_type", "name", "args", "kwargs", "meta", "item_uid"}
    if extra:
        return f"unexpected keys {sorted(extra)}"
    return None


def request_problem(method: str, params: Mapping[str, Any], *, entry: bool = False) -> str | None:
    """Why this request is malformed (None if it is well-formed)."""
    if method in READS:
        return None
    allowed = ALLOWED_PARAMS.get(method)
    if allowed is None:
        return f"unexpected method {method}"
    extra = set(params) - allowed
    if extra:
        return f"unexpected params {sorted(extra)}"
    try:
        json.dumps(params, allow_nan=False)
    except (TypeError, ValueError) as ex:
        return f"not strict JSON: {ex}"
    items = params.get("items") if "items" in params else [params.get("item")]
    if method.startswith(("queue_item_add", "queue_item_execute", "queue_item_update")):
        if not items:
            return "no items"
        for item in items:
            problem = item_problem(item, entry=entry)
            if problem:
                return problem
            if entry and item.get("item_type") == "plan" and item["name"] not in PLANS:
                return f"plan {item['name']!r} is not allowed"
    for key in ("user", "user_group"):
        if key in params and not (isinstance(params[key], str) and params[key]):
            return f"{key} {params[key]!r}"
    return None


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return True


class FakeServer:
    """Idle manager with an open environment; keeps a queue; answers like RE Manager 0.0.25."""

    def __init__(self) -> None:
        self.status = status_reply(worker_environment_exists=True, re_state="idle",
                                   items_in_queue=0, worker_environment_state="idle",
                                   ip_kernel_state="disabled", ip_kernel_captured=True,
                                   queue_stop_pending=False, queue_autostart_enabled=False,
                                   pause_pending=False, running_item_uid=None,
                                   plan_queue_mode={"loop": False, "ignore_failures": False})
        self.queue: list[dict] = []
        self.n = 0
        self.override: dict[str, Any] = {}  # method -> reply (any JSON value) for fuzzing

    def handle(self, method: str, params: dict) -> Any:
        if method in self.override:
            return self.override[method]
        if method == "status":
            return dict(self.status)
        if method == "queue_get":
            return {"success": True, "msg": "", "items": self.queue, "running_item": {},
                    "plan_queue_uid": self.status["plan_queue_uid"]}
        if method == "history_get":
            return {"success": True, "msg": "", "items": [],
                    "plan_history_uid": self.status["plan_history_uid"]}
        if method == "plans_allowed":
            return {"success": True, "msg": "", "plans_allowed": PLANS,
                    "plans_allowed_uid": self.status["plans_allowed_uid"]}
        if method == "devices_allowed":
            return {"success": True, "msg": "", "devices_allowed": DEVICES,
                    "devices_allowed_uid": self.status["devices_allowed_uid"]}
        if method == "lock_info":
            return {"success": True, "msg": "", "lock_info": {"environment": False,
                                                              "queue": False},
                    "lock_info_uid": self.status["lock_info_uid"]}
        if method in ("queue_item_add", "queue_item_execute", "queue_item_add_batch"):
            items = params.get("items") or [params.get("item")]
            added = []
            for item in items:
                self.n += 1
                added.append({**item, "item_uid": f"u{self.n}", "user": params.get("user"),
                              "user_group": params.get("user_group")})
            if method != "queue_item_execute":
                self.queue = [*self.queue, *added]
                self.status = {**self.status, "plan_queue_uid": f"q{self.n}",
                               "items_in_queue": len(self.queue)}
            return {"success": True, "msg": "", "qsize": len(self.queue), "item": added[0],
                    "items": added}
        return {"success": True, "msg": ""}


def fake_api(server: FakeServer, **kwargs: Any) -> tuple[REManagerAPI, FakeTransport]:
    transport = FakeTransport(server.handle)
    api = REManagerAPI(transport=transport, **kwargs)
    api.user, api.user_group = "fuzzer", "primary"
    return api, transport
