"""Uid-driven fetching: queue, history, plans, devices and lock info are read only when their
``*_uid`` in the status changes, once per uid, with a back-off while a fetch keeps failing.
A mixin of ``Session``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from ..client.exceptions import RequestFailedError, RequestTimeoutError
from .replies import MalformedReply, as_mapping, checked_items, checked_map

#: category -> status key holding its uid
UID_KEYS = {
    "queue": "plan_queue_uid",
    "history": "plan_history_uid",
    "plans": "plans_allowed_uid",
    "devices": "devices_allowed_uid",
    "lock": "lock_info_uid",
}
FETCH_BACKOFF_MAX = 30.0  # seconds between retries of a fetch that keeps failing


class SessionFetching:
    """Keeps ``queue``/``history``/... of the Session in step with the status uids."""

    def _schedule_fetch(self, category: str) -> None:
        task = self._fetch_tasks.get(category)
        if task is not None and not task.done():
            return  # the running fetch re-checks the uid when it finishes
        if not self._control_verified:
            return  # fetched once a poll is answered (see _on_status)
        failures = self._fetch_failures[category]
        if failures and time.monotonic() - self._fetch_failed_at.get(category, 0.0) < min(
                FETCH_BACKOFF_MAX, 2.0 ** failures):
            return  # failing: retry after a back-off, not on every status push
        self._fetch_tasks[category] = asyncio.ensure_future(self._fetch_loop(category))

    async def _fetch_loop(self, category: str) -> None:
        key = UID_KEYS[category]
        while self._running and self.status is not None:
            wanted = self.status.get(key)
            if wanted == self._fetched[category] or (
                    wanted is not None and wanted == self._reply_uid[category]):
                return
            try:
                uid = await self._fetch(category)
            except (RequestTimeoutError, RequestFailedError) as ex:
                if isinstance(ex, RequestTimeoutError):
                    self._control_timeout()
                else:
                    self._control_ok()
                self._fetch_failures[category] += 1
                self._fetch_failed_at[category] = time.monotonic()
                if self._fetch_failures[category] == 1:
                    self.message.emit("warning", f"Could not load the {category}: {ex}")
                return  # a later status retries
            except asyncio.CancelledError:
                raise
            except Exception as ex:  # a reply of the wrong shape: keep what is shown
                self._fetch_failures[category] += 1
                self._fetch_failed_at[category] = time.monotonic()
                self._report_malformed(f"fetch-{category}", f"Could not load the {category}: "
                                       f"the RE Manager's reply is malformed ({ex}).")
                return
            self._control_ok()
            self._fetch_failures[category] = 0
            # Done for the status that asked for it. The reply may already be newer (its uid
            # differs): a status carrying that uid then needs no fetch, but a status that still
            # shows the old one must not make this loop fetch again and again.
            self._fetched[category] = wanted
            self._reply_uid[category] = uid
            await asyncio.sleep(0)  # never spin without yielding, whatever the transport

    async def _fetch(self, category: str) -> Any:
        api = self.api
        if category == "queue":
            reply = as_mapping(await api.queue_get(), "queue_get")
            items = checked_items(reply, "items")
            running = reply.get("running_item") or {}
            if not isinstance(running, Mapping):
                raise MalformedReply("'running_item' is not an item")
            self.queue, self.running_item = items, running
            self.queue_changed.emit(self.queue, self.running_item)
            return reply.get("plan_queue_uid")
        if category == "history":
            reply = as_mapping(await api.history_get(), "history_get")
            self.history = checked_items(reply, "items")
            self.tracker.on_history(self.history)
            self.history_changed.emit(self.history)
            return reply.get("plan_history_uid")
        if category == "plans":
            reply = as_mapping(await api.plans_allowed(), "plans_allowed")
            self.plans_allowed = checked_map(reply, "plans_allowed")
            self.plans_changed.emit(self.plans_allowed)
            return reply.get("plans_allowed_uid")
        if category == "devices":
            reply = as_mapping(await api.devices_allowed(), "devices_allowed")
            self.devices_allowed = checked_map(reply, "devices_allowed")
            self.devices_changed.emit(self.devices_allowed)
            return reply.get("devices_allowed_uid")
        reply = as_mapping(await api.lock_info(), "lock_info")
        info = reply.get("lock_info")
        if info is not None and not isinstance(info, Mapping):
            raise MalformedReply("'lock_info' is not an object")
        self.lock_info = info
        self.lock_info_changed.emit(self.lock_info)
        return reply.get("lock_info_uid")
