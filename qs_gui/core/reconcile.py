"""After a lost reply: did the server apply the request? Decided from the server's own state.

A timeout on a request that changes the queue leaves the client not knowing whether the server
acted. Sending it again could execute a plan twice or add an item twice, so qs-gui never re-sends;
it fetches the queue (and the running item and history) afterwards and compares them with what it
knew when it sent the request. This module is that comparison, as pure functions with no I/O, so
every rule is unit-tested.

``decide(request, before, after)`` returns a :class:`Verdict`:

* ``applied``      the server's state shows the request took effect (for a move: the item is
                   where it was asked to go) -- ``item`` is the item as the server holds it;
* ``not_applied``  the server's state is what it was before: the request never took effect;
* ``unknown``      neither: someone else changed the same items meanwhile, or the item left the
                   queue -- the message says what is known.

The message is for the operator, in plain words, and always says that nothing was sent again.

Matching rules: a new item is one whose uid the client had not seen before the request (queue,
running item, history). It matches the request when its ``item_type``/``name``/``args``/
``kwargs``/``meta`` equal what was sent, after a JSON round trip (the wire turns tuples into
lists), and when ``user``/``user_group`` agree if both sides have them. Another client adding an
identical item under the same user name in the same second is the one case this cannot tell
apart; it is reported as applied.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .formatting import count

__all__ = [
    "APPLIED", "NOT_APPLIED", "RECONCILABLE_METHODS", "UNKNOWN", "ServerState", "Snapshot",
    "Verdict", "decide", "same_content",
]

APPLIED, NOT_APPLIED, UNKNOWN = "applied", "not_applied", "unknown"

#: Requests whose lost reply is reconciled (not idempotent, or worth confirming).
RECONCILABLE_METHODS = frozenset({
    "queue_item_execute", "queue_item_add", "queue_item_add_batch", "queue_item_update",
    "queue_item_move", "queue_item_move_batch", "queue_item_remove", "queue_item_remove_batch",
})

#: Methods whose outcome can involve the history (the item may already have run).
NEEDS_HISTORY = frozenset({"queue_item_execute", "queue_item_add", "queue_item_add_batch",
                           "queue_item_update", "queue_item_remove", "queue_item_remove_batch"})

_CONTENT_KEYS = ("item_type", "name", "args", "kwargs", "meta")
_EMPTY = {"args": [], "kwargs": {}, "meta": {}}
NOT_RESENT = "It was NOT sent again."
_HISTORY_SEARCH = 2000  # newest history entries searched for an item that already finished


@dataclass(frozen=True)
class Snapshot:
    """What the client knew when it sent the request (lists are held, not copied: the session
    replaces them on every fetch and never changes them in place)."""

    queue: Sequence[Mapping[str, Any]] = ()
    running_item: Mapping[str, Any] | None = None
    history: Sequence[Mapping[str, Any]] = ()

    def queue_uids(self) -> list[Any]:
        return [_uid(i) for i in self.queue]

    def known_uids(self) -> set[Any]:
        """Every uid seen anywhere: a uid outside this set is new."""
        uids = {_uid(i) for i in self.queue}
        uids.update(_uid(i) for i in self.history[-_HISTORY_SEARCH:])
        if self.running_item:
            uids.add(_uid(self.running_item))
        uids.discard(None)
        return uids

    def item(self, uid: Any) -> Mapping[str, Any] | None:
        return next((i for i in self.queue if _uid(i) == uid), None)


@dataclass(frozen=True)
class ServerState:
    """The server's state fetched after the timeout (``history`` None when not fetched)."""

    queue: Sequence[Mapping[str, Any]] = ()
    running_item: Mapping[str, Any] | None = None
    history: Sequence[Mapping[str, Any]] | None = None

    def queue_uids(self) -> list[Any]:
        return [_uid(i) for i in self.queue]


@dataclass(frozen=True)
class Verdict:
    """``verdict``: APPLIED, NOT_APPLIED or UNKNOWN; ``message`` is for the operator."""

    verdict: str
    message: str
    item: Mapping[str, Any] | None = None  # the server's copy of the item when it was found
    items: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)

    @property
    def applied(self) -> bool:
        return self.verdict == APPLIED


# -- helpers -----------------------------------------------------------------------------------
def _uid(item: Any) -> str | None:
    uid = item.get("item_uid") if isinstance(item, Mapping) else None
    return uid if isinstance(uid, str) else None


def _uid_list(value: Any) -> list[str]:
    return [u for u in value if isinstance(u, str)] if isinstance(value, list) else []


def _normal(value: Any) -> Any:
    try:
        return json.loads(json.dumps(value, sort_keys=True, default=str))
    except (TypeError, ValueError):
        return repr(value)


def _content(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _normal(item.get(k) if item.get(k) is not None else _EMPTY.get(k))
            for k in _CONTENT_KEYS if k in item or k in _EMPTY}


def same_content(a: Any, b: Any) -> bool:
    """True when two items describe the same plan call (uid, user and result ignored).

    ``item_type`` and ``meta`` are compared only when both items have them (some server views
    of an item drop empty fields).
    """
    if not isinstance(a, Mapping) or not isinstance(b, Mapping):
        return False
    ca, cb = _content(a), _content(b)
    for key in ("item_type", "meta"):
        if key not in a or key not in b:
            ca.pop(key, None)
            cb.pop(key, None)
    return ca == cb


def _same_owner(sent_params: Mapping[str, Any], item: Mapping[str, Any]) -> bool:
    for key in ("user", "user_group"):
        mine, theirs = sent_params.get(key), item.get(key)
        if mine is not None and theirs is not None and mine != theirs:
            return False
    return True


def _name(item: Any) -> str:
    name = item.get("name") if isinstance(item, Mapping) else None
    return name if isinstance(name, str) and name else "the item"


def _new_matches(sent: Mapping[str, Any], params: Mapping[str, Any], items: Sequence[Any],
                 known: set[Any]) -> list[Mapping[str, Any]]:
    return [i for i in items if isinstance(i, Mapping) and _uid(i) not in known
            and same_content(i, sent) and _same_owner(params, i)]


def _history_tail(after: ServerState) -> Sequence[Mapping[str, Any]]:
    return list(after.history or ())[-_HISTORY_SEARCH:]


def _exit_status(entry: Mapping[str, Any]) -> str:
    result = entry.get("result")
    status = result.get("exit_status") if isinstance(result, Mapping) else None
    return status if isinstance(status, str) else "unknown"


def _resolve_pos(pos: Any, uids: Sequence[Any]) -> Any:
    """The uid at ``pos`` ("front", "back" or an int, negative from the back) in ``uids``."""
    if not uids:
        return None
    if pos == "front":
        return uids[0]
    if pos == "back":
        return uids[-1]
    if isinstance(pos, int) and not isinstance(pos, bool) and -len(uids) <= pos < len(uids):
        return uids[pos]
    return None


# -- the decision ------------------------------------------------------------------------------
def decide(request: Mapping[str, Any], before: Snapshot, after: ServerState,
           what: str | None = None) -> Verdict:
    """Whether ``request`` ({"method", "params"}) took effect, judged from ``after``."""
    method = request.get("method") if isinstance(request, Mapping) else None
    params = request.get("params") if isinstance(request, Mapping) else None
    params = params if isinstance(params, Mapping) else {}
    handler = _HANDLERS.get(method)
    if handler is None:
        return Verdict(UNKNOWN, f"{what or method}: no reply from the RE Manager; qs-gui cannot "
                                f"tell whether it took effect. {NOT_RESENT}")
    return handler(params, before, after, what or _DEFAULT_WHAT.get(method, str(method)))


def _execute(params, before, after, what) -> Verdict:
    sent = params.get("item") if isinstance(params.get("item"), Mapping) else {}
    name = _name(sent)
    known = before.known_uids()
    running = after.running_item or {}
    props = running.get("properties") if isinstance(running.get("properties"), Mapping) else {}
    if (running and props.get("immediate_execution") and _uid(running) not in known
            and same_content(running, sent) and _same_owner(params, running)):
        return Verdict(APPLIED, f"{what}: the reply was lost, but the server did start {name} "
                                f"(it is running now); following it. {NOT_RESENT}", item=running)
    done = _new_matches(sent, params, _history_tail(after)[::-1], known)
    if done:
        entry = done[0]
        return Verdict(APPLIED, f"{what}: the reply was lost, but the server did start {name}, "
                                f"and it has already finished ({_exit_status(entry)}). "
                                f"{NOT_RESENT}", item=entry)
    if after.history is None:
        return Verdict(UNKNOWN, f"{what}: the reply was lost and {name} is not running; the "
                                f"history could not be checked. {NOT_RESENT}")
    return Verdict(NOT_APPLIED, f"{what}: the reply was lost and the server did not start "
                                f"{name} (it is neither running nor in the history). "
                                f"{NOT_RESENT} Execute it again if you still want it.")


def _add(params, before, after, what) -> Verdict:
    sent = params.get("item") if isinstance(params.get("item"), Mapping) else {}
    name = _name(sent)
    known = before.known_uids()
    queued = _new_matches(sent, params, after.queue, known)
    if queued:
        item = queued[0]
        position = after.queue_uids().index(_uid(item)) + 1
        return Verdict(APPLIED, f"{what}: the reply was lost, but the server did add {name} "
                                f"(now at position {position} of {len(after.queue)}). "
                                f"{NOT_RESENT}", item=item)
    elsewhere = _new_matches(sent, params, [after.running_item or {}], known) or \
        _new_matches(sent, params, _history_tail(after)[::-1], known)
    if elsewhere:
        return Verdict(APPLIED, f"{what}: the reply was lost, but the server did add {name}, "
                                f"and it has already started. {NOT_RESENT}", item=elsewhere[0])
    return Verdict(NOT_APPLIED, f"{what}: the reply was lost and {name} is not in the queue: "
                                f"the server did not add it. {NOT_RESENT} Add it again if you "
                                f"still want it.")


def _add_batch(params, before, after, what) -> Verdict:
    sent = [i for i in params.get("items") or [] if isinstance(i, Mapping)]
    known = before.known_uids()
    pool = [i for i in [*after.queue, after.running_item or {}, *_history_tail(after)]
            if isinstance(i, Mapping) and _uid(i) not in known and _same_owner(params, i)]
    found: list[Mapping[str, Any]] = []
    for item in sent:  # each new server item may account for one sent item only
        match = next((p for p in pool if same_content(p, item)), None)
        if match is not None:
            pool.remove(match)
            found.append(match)
    n = len(sent)
    if sent and len(found) == n:
        return Verdict(APPLIED, f"{what}: the reply was lost, but the server did add "
                                f"{'the' if n == 1 else 'all'} {count(n, 'item')}. "
                                f"{NOT_RESENT}", items=tuple(found))
    if not found:
        return Verdict(NOT_APPLIED, f"{what}: the reply was lost and none of the "
                                    f"{count(n, 'item')} is in the queue: the server did not "
                                    f"add them. {NOT_RESENT}")
    return Verdict(UNKNOWN, f"{what}: the reply was lost; {len(found)} of the "
                            f"{count(n, 'item')} are "
                            f"in the queue (the queue was also changed by someone else). "
                            f"{NOT_RESENT} Check the queue.", items=tuple(found))


def _where(uid: Any, after: ServerState) -> str:
    if _uid(after.running_item) == uid:
        return "it is running now"
    if any(_uid(i) == uid for i in _history_tail(after)):
        return "it has already run"
    return "it was removed from the queue"


def _update(params, before, after, what) -> Verdict:
    sent = params.get("item") if isinstance(params.get("item"), Mapping) else {}
    uid, name = _uid(sent), _name(sent)
    old = before.item(uid)
    after_uids = after.queue_uids()
    if params.get("replace"):
        if uid in after_uids:
            current = after.queue[after_uids.index(uid)]
            if old is not None and same_content(current, old):
                return Verdict(NOT_APPLIED, f"{what}: the reply was lost and {name} is "
                                            f"unchanged: the server did not save it. "
                                            f"{NOT_RESENT} Your edits are still in the editor.")
            return Verdict(UNKNOWN, f"{what}: the reply was lost and {name} was changed by "
                                    f"someone else meanwhile. {NOT_RESENT}")
        new = _new_matches(sent, params, after.queue, before.known_uids())
        if new:
            return Verdict(APPLIED, f"{what}: the reply was lost, but the server did save "
                                    f"{name}. {NOT_RESENT}", item=new[0])
        return Verdict(UNKNOWN, f"{what}: the reply was lost and {name} is no longer in the "
                                f"queue ({_where(uid, after)}). {NOT_RESENT}")
    if uid not in after_uids:
        return Verdict(UNKNOWN, f"{what}: the reply was lost and {name} is no longer in the "
                                f"queue ({_where(uid, after)}); whether your changes were saved "
                                f"first is not known. {NOT_RESENT}")
    current = after.queue[after_uids.index(uid)]
    if same_content(current, sent):
        return Verdict(APPLIED, f"{what}: the reply was lost, but the server did save your "
                                f"changes to {name}. {NOT_RESENT}", item=current)
    if old is not None and same_content(current, old):
        return Verdict(NOT_APPLIED, f"{what}: the reply was lost and {name} is unchanged: the "
                                    f"server did not save your changes. {NOT_RESENT} They are "
                                    f"still in the editor.")
    return Verdict(UNKNOWN, f"{what}: the reply was lost and {name} now differs from both your "
                            f"version and the one you loaded: someone else changed it. "
                            f"{NOT_RESENT}", item=current)


def _target_ok(block: list[Any], order: list[Any], params: Mapping[str, Any]) -> bool | None:
    """Whether ``block`` sits contiguously, in order, where ``params`` asked; None if the
    destination no longer exists."""
    if not block or any(u not in order for u in block):
        return None
    start = order.index(block[0])
    if order[start:start + len(block)] != block:
        return False
    end = start + len(block)  # first index after the block
    if params.get("before_uid") is not None:
        anchor = params["before_uid"]
        return None if anchor not in order else end < len(order) and order[end] == anchor
    if params.get("after_uid") is not None:
        anchor = params["after_uid"]
        return None if anchor not in order else start > 0 and order[start - 1] == anchor
    dest = params.get("pos_dest")
    if dest == "front":
        return start == 0
    if dest == "back":
        return end == len(order)
    if isinstance(dest, int) and not isinstance(dest, bool):
        index = dest if dest >= 0 else len(order) + dest
        return start == max(0, min(index, len(order) - 1))
    return None


def _move(params, before, after, what) -> Verdict:
    before_uids, after_uids = before.queue_uids(), after.queue_uids()
    if "uids" in params:
        uids = _uid_list(params.get("uids"))
        if params.get("reorder"):
            rank = {u: i for i, u in enumerate(after_uids)}
            uids.sort(key=lambda u: rank.get(u, len(rank)))
    else:
        uid = params.get("uid")
        uids = [uid if isinstance(uid, str) else _resolve_pos(params.get("pos"), before_uids)]
    label = "the item" if len(uids) == 1 else f"the {len(uids)} items"
    gone = [u for u in uids if u not in after_uids]
    if gone:
        return Verdict(UNKNOWN, f"{what}: the reply was lost and {label} "
                                f"{'is' if len(uids) == 1 else 'are'} no longer all in the "
                                f"queue (started or removed meanwhile). {NOT_RESENT}")
    ok = _target_ok(uids, after_uids, params)
    if ok is None:
        return Verdict(UNKNOWN, f"{what}: the reply was lost and the place you moved to is no "
                                f"longer in the queue. {NOT_RESENT}")
    if ok:
        return Verdict(APPLIED, f"{what}: the reply was lost, but {label} "
                                f"{'is' if len(uids) == 1 else 'are'} now where you moved "
                                f"{'it' if len(uids) == 1 else 'them'}. {NOT_RESENT}")
    if [u for u in after_uids if u in before_uids] == [u for u in before_uids if u in after_uids]:
        return Verdict(NOT_APPLIED, f"{what}: the reply was lost and the queue order is "
                                    f"unchanged: the server did not move {label}. "
                                    f"{NOT_RESENT}")
    return Verdict(UNKNOWN, f"{what}: the reply was lost and the queue was reordered by "
                            f"someone else meanwhile. {NOT_RESENT} Check the queue.")


def _remove(params, before, after, what) -> Verdict:
    before_uids, after_uids = before.queue_uids(), after.queue_uids()
    if "uids" in params:
        uids = _uid_list(params.get("uids"))
    else:
        uid = params.get("uid")
        uids = [uid if isinstance(uid, str) else _resolve_pos(params.get("pos", "back"),
                                                              before_uids)]
    label = "the item" if len(uids) == 1 else f"the {len(uids)} items"
    present = [u for u in uids if u in after_uids]
    ran = {_uid(after.running_item)} | {_uid(i) for i in _history_tail(after)}
    started = [u for u in uids if u not in after_uids and u in ran]
    if not present and not started:
        return Verdict(APPLIED, f"{what}: the reply was lost, but {label} "
                                f"{'is' if len(uids) == 1 else 'are'} no longer in the queue. "
                                f"{NOT_RESENT}")
    if len(present) == len(uids):
        return Verdict(NOT_APPLIED, f"{what}: the reply was lost and {label} "
                                    f"{'is' if len(uids) == 1 else 'are'} still in the queue: "
                                    f"the server did not remove "
                                    f"{'it' if len(uids) == 1 else 'them'}. {NOT_RESENT}")
    return Verdict(UNKNOWN, f"{what}: the reply was lost; {len(uids) - len(present)} of "
                            f"{len(uids)} left the queue, {len(started)} of them because "
                            f"{'it' if len(started) == 1 else 'they'} started running. "
                            f"{NOT_RESENT} Check the queue.")


_HANDLERS = {
    "queue_item_execute": _execute, "queue_item_add": _add, "queue_item_add_batch": _add_batch,
    "queue_item_update": _update, "queue_item_move": _move, "queue_item_move_batch": _move,
    "queue_item_remove": _remove, "queue_item_remove_batch": _remove,
}
_DEFAULT_WHAT = {
    "queue_item_execute": "Execute now", "queue_item_add": "Add to queue",
    "queue_item_add_batch": "Add to queue", "queue_item_update": "Save",
    "queue_item_move": "Move", "queue_item_move_batch": "Move",
    "queue_item_remove": "Remove", "queue_item_remove_batch": "Remove",
}

