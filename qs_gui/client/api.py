"""``REManagerAPI``: the asyncio RE Manager client with the reference client's contract.

Same method names, parameters, return dicts and exceptions as
``bluesky_queueserver_api.zmq.aio.REManagerAPI`` (its own test suite runs against this class:
tests/reference), but: constructible before the loop runs, no background tasks or timers unless
a monitor is enabled, caller bugs are not reported as timeouts, bulk requests get a timeout
scaled to the item counts in the last status, and a read-only mode refuses mutating calls before
anything is sent.

Performance (docs/performance.md): bulk replies are decoded without blocking the event loop
(``jsonstream``), on their own REQ socket so urgent requests are not queued behind them
(``transport``); cached replies over 4 MB are kept compressed; with
``reuse_unchanged_items=True``, ``history_get`` hands back the previous reply's item objects for
entries that did not change (replies then share objects: treat them as read-only).
``history_get_compact`` (the GUI session's read; not in the reference API) returns compact,
read-only history entries instead of dicts (``history_entries``).
"""

from __future__ import annotations

import asyncio
import copy
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from .exceptions import (
    ClientClosedError,
    HTTPClientError,
    HTTPRequestError,
    HTTPServerError,
    ReadOnlyError,
    RequestFailedError,
    RequestParameterError,
    RequestTimeoutError,
    WaitCancelError,
    WaitTimeoutError,
)
from .history_entries import EntryDecoder
from .jsonstream import ItemDecoder, Reuse
from .monitor import InfoMonitor
from .params import RE_RUNS_OPTIONS, RequestBuilder
from .protocols import AuthorizationMethods, Protocols
from .reply_cache import ReplyCache, item_uid_key
from .stream_monitors import ClientMonitors
from .transport import Transport, TransportTimeout, ZMQTransport, validate_curve_key
from .waiting import WaitMethods

DEFAULT_CONTROL_ADDR = "tcp://localhost:60615"
DEFAULT_INFO_ADDR = "tcp://localhost:60625"

#: Methods that never change server state; the only ones a read-only client sends.
READ_ONLY_METHODS = frozenset({
    "ping", "status", "config_get", "queue_get", "queue_item_get", "history_get",
    "plans_allowed", "devices_allowed", "plans_existing", "devices_existing", "permissions_get",
    "re_runs", "re_metadata", "lock_info", "task_status", "task_result",
})


def is_success(response: Any) -> bool:
    """The reference rule: a non-iterable reply or ``success: False`` is a failure."""
    if isinstance(response, Mapping):
        return bool(response.get("success", True))
    return not isinstance(response, str) and hasattr(response, "__iter__")


class REManagerAPIBase(RequestBuilder, WaitMethods, ClientMonitors):
    """Every RE Manager method, over whatever transport the subclass builds (0MQ here, HTTP in
    :mod:`.http`): one copy of each method, as in the reference's ``API_Async_Mixin``."""

    Protocols = Protocols
    AuthorizationMethods = AuthorizationMethods
    HTTPRequestError = HTTPRequestError
    HTTPClientError = HTTPClientError
    HTTPServerError = HTTPServerError
    RequestParameterError = RequestParameterError
    RequestTimeoutError = RequestTimeoutError
    RequestFailedError = RequestFailedError
    WaitTimeoutError = WaitTimeoutError
    WaitCancelError = WaitCancelError
    ReadOnlyError = ReadOnlyError

    _transport: Transport

    def _init_api(self, *, transport: Transport, timeout_recv: float,
                  request_fail_exceptions: bool, status_expiration_period: float,
                  status_polling_period: float, read_only: bool, bulk_timeout_per_item: float,
                  reuse_unchanged_items: bool, console: dict[str, Any],
                  system_info: dict[str, Any]) -> None:
        self._timeout_recv = float(timeout_recv)
        self._transport = transport
        self._request_fail_exceptions = bool(request_fail_exceptions)
        self._status_expiration_period = float(status_expiration_period)
        self._status_polling_period = float(status_polling_period)
        self._read_only = bool(read_only)
        self._bulk_timeout_per_item = float(bulk_timeout_per_item)
        self._status_current: dict[str, Any] | None = None
        self._status_timestamp: float | None = None
        self._status_lock = None
        self._cache = ReplyCache()
        #: called as ``observer(method, seconds)`` after every answered request (send to the
        #: reply's arrival where the transport knows it, else to the decoded reply), so the
        #: session can learn how long the serial server takes to answer
        self.reply_observers: list[Callable[[str, float], None]] = []
        # history_get: items equal to the previous reply's are handed back as those objects
        self._reuse: dict[str, Reuse | ItemDecoder] = (
            {"history": Reuse(item_uid_key)} if reuse_unchanged_items else {})
        self._reuse["history_compact"] = EntryDecoder()
        self._init_monitors(console=console, system_info=system_info)
        self._closed = False

    # -- properties -------------------------------------------------------------------------
    @property
    def protocol(self) -> Protocols:
        raise NotImplementedError

    @property
    def server_address(self) -> str:
        """Where requests go (the control address or the gateway URI), for display."""
        raise NotImplementedError

    @property
    def request_fail_exceptions_enabled(self) -> bool:
        """Raise RequestFailedError on ``success: False`` (else return the reply)."""
        return self._request_fail_exceptions

    @request_fail_exceptions_enabled.setter
    def request_fail_exceptions_enabled(self, enabled: bool) -> None:
        self._request_fail_exceptions = bool(enabled)

    @property
    def read_only(self) -> bool:
        """Monitor mode: mutating requests raise ReadOnlyError and are never sent."""
        return self._read_only

    @property
    def transport(self) -> Transport:
        return self._transport

    # -- the request path -------------------------------------------------------------------
    def _sendable_read_only(self, method: str) -> bool:
        """What a read-only (monitor) client still sends: the methods that change nothing."""
        return method in READ_ONLY_METHODS

    async def _send(self, method: str, params: Mapping[str, Any] | None = None, *,
                    timeout: float | None = None,
                    reuse: Reuse | ItemDecoder | None = None) -> tuple[Any, bytes | memoryview]:
        if self._closed:
            raise ClientClosedError("The client is closed")
        if self._read_only and not self._sendable_read_only(method):
            raise ReadOnlyError(f"Read-only (monitor) mode: {method!r} was not sent")
        request = {"method": method, "params": params}
        if not self._transport.supports_reuse:
            reuse = None
        started = time.monotonic()
        try:
            response, raw = await self._request(method, params or {}, timeout=timeout,
                                                reuse=reuse)
        except TransportTimeout as ex:
            raise RequestTimeoutError(ex, request) from ex
        seconds = time.monotonic() - started
        exchange = getattr(self._transport, "last_exchange", None)
        if isinstance(exchange, dict) and isinstance(exchange.get(method), float):
            seconds = min(seconds, exchange[method])  # without the decode, where known
        for observer in self.reply_observers:
            observer(method, seconds)
        if self._request_fail_exceptions and not is_success(response):
            raise RequestFailedError(request, response)
        return response, raw

    async def _request(self, method: str, params: Mapping[str, Any], *, timeout: float | None,
                       reuse: Reuse | ItemDecoder | None) -> tuple[Any, bytes | memoryview]:
        return await self._transport.request(method, params, timeout=timeout, reuse=reuse)

    async def send_request(self, *, method: str, params: Mapping[str, Any] | None = None,
                           timeout: float | None = None) -> Any:
        """Send any method; raise or return exactly as the typed wrappers do."""
        response, _ = await self._send(method, params, timeout=timeout)
        return response

    def _clear_status_timestamp(self) -> None:
        self._status_timestamp = None

    def _bulk_timeout(self, count_key: str) -> float:
        count = (self._status_current or {}).get(count_key) or 0
        if not isinstance(count, int):
            count = 0
        return self._timeout_recv + count * self._bulk_timeout_per_item

    async def _mutate(self, method: str, params: dict[str, Any]) -> Any:
        self._clear_status_timestamp()
        return await self.send_request(method=method, params=params)

    async def _cached(self, name: str, uid: Any, method: str, params: Mapping | None = None,
                      timeout: float | None = None) -> dict[str, Any]:
        """The cached reply while ``uid`` is unchanged (see ``reply_cache``); fetch it otherwise."""
        reuse = self._reuse.get(name)
        hit = await self._cache.get(name, uid, lambda raw: self._decode_async(raw, reuse))
        if hit is not None:
            return hit
        response, raw = await self._send(method, params, timeout=timeout, reuse=reuse)
        self._cache.put(name, uid, response, raw, shared=reuse is not None)
        return response

    async def _decode_async(self, raw: bytes, reuse: Reuse | ItemDecoder | None = None) -> Any:
        transport = self._transport
        return await transport.decode_async(raw, reuse if transport.supports_reuse else None)

    # -- status -----------------------------------------------------------------------------
    def update_status(self, status: Mapping[str, Any]) -> None:
        """Accept a pushed status (QS_Info) as current, saving a round trip for cached calls."""
        self._status_current = dict(status)
        self._status_timestamp = time.monotonic()

    async def _status(self, *, reload: bool = False) -> dict[str, Any]:
        if self._status_lock is None:
            self._status_lock = asyncio.Lock()
        t_call = time.monotonic()

        def fresh(max_age: float) -> bool:
            ts = self._status_timestamp
            return ts is not None and self._status_current is not None and (
                time.monotonic() - ts <= max_age)

        if not reload and fresh(self._status_expiration_period):
            return self._status_current
        async with self._status_lock:
            # Coalesce concurrent callers: a status fetched after this call began is fresh.
            ts = self._status_timestamp
            if ts is not None and ts >= t_call and self._status_current is not None:
                return self._status_current
            if not reload and fresh(self._status_expiration_period):
                return self._status_current
            status = await self.send_request(method="status",
                                             params=self._status_params(reload))
            if isinstance(status, Mapping) and "manager_state" in status:
                self._status_current = dict(status)
                self._status_timestamp = time.monotonic()
            return status

    def _status_params(self, reload: bool) -> dict[str, Any] | None:
        """What a status request carries (HTTP: asking the gateway past its own cache)."""
        return None

    async def status(self, *, reload: bool = False) -> dict[str, Any]:
        """RE Manager status; a copy of the cached one while it is younger than the expiry."""
        return copy.deepcopy(await self._status(reload=reload))

    async def ping(self, *, reload: bool = False) -> dict[str, Any]:
        return await self.status(reload=reload)

    async def config_get(self) -> dict[str, Any]:
        return await self.send_request(method="config_get")

    # -- queue items ------------------------------------------------------------------------
    async def item_add(self, item, *, pos=None, before_uid=None, after_uid=None, user=None,
                       user_group=None, lock_key=None) -> dict[str, Any]:
        return await self._mutate("queue_item_add", self._prepare_item_add(
            item=item, pos=pos, before_uid=before_uid, after_uid=after_uid, user=user,
            user_group=user_group, lock_key=lock_key))

    async def item_add_batch(self, items, *, pos=None, before_uid=None, after_uid=None,
                             user=None, user_group=None, lock_key=None) -> dict[str, Any]:
        return await self._mutate("queue_item_add_batch", self._prepare_item_add_batch(
            items=items, pos=pos, before_uid=before_uid, after_uid=after_uid, user=user,
            user_group=user_group, lock_key=lock_key))

    async def item_update(self, item, *, replace=None, user=None, user_group=None,
                          lock_key=None) -> dict[str, Any]:
        return await self._mutate("queue_item_update", self._prepare_item_update(
            item=item, replace=replace, user=user, user_group=user_group, lock_key=lock_key))

    async def item_get(self, *, pos=None, uid=None) -> dict[str, Any]:
        return await self.send_request(method="queue_item_get",
                                       params=self._prepare_item_get(pos=pos, uid=uid))

    async def item_remove(self, *, pos=None, uid=None, lock_key=None) -> dict[str, Any]:
        return await self._mutate("queue_item_remove", self._prepare_item_remove(
            pos=pos, uid=uid, lock_key=lock_key))

    async def item_remove_batch(self, *, uids, ignore_missing=None,
                                lock_key=None) -> dict[str, Any]:
        return await self._mutate("queue_item_remove_batch", self._prepare_item_remove_batch(
            uids=uids, ignore_missing=ignore_missing, lock_key=lock_key))

    async def item_move(self, *, pos=None, uid=None, pos_dest=None, before_uid=None,
                        after_uid=None, lock_key=None) -> dict[str, Any]:
        return await self._mutate("queue_item_move", self._prepare_item_move(
            pos=pos, uid=uid, pos_dest=pos_dest, before_uid=before_uid, after_uid=after_uid,
            lock_key=lock_key))

    async def item_move_batch(self, *, uids=None, pos_dest=None, before_uid=None,
                              after_uid=None, reorder=None, lock_key=None) -> dict[str, Any]:
        return await self._mutate("queue_item_move_batch", self._prepare_item_move_batch(
            uids=uids, pos_dest=pos_dest, before_uid=before_uid, after_uid=after_uid,
            reorder=reorder, lock_key=lock_key))

    async def item_execute(self, item, *, user: str | None = None,
                           user_group: str | None = None,
                           lock_key: str | None = None) -> dict[str, Any]:
        """Run one plan or instruction now, outside the queue.

        Returns ``{success, msg, qsize, item}`` (the item as stored, with its new
        ``item_uid``); success means "started". Raises RequestFailedError when refused
        (unless request-failure exceptions are disabled) and RequestTimeoutError when no reply.
        """
        return await self._mutate("queue_item_execute", self._prepare_item_execute(
            item=item, user=user, user_group=user_group, lock_key=lock_key))

    async def function_execute(self, item, *, run_in_background=None, user=None,
                               user_group=None, lock_key=None) -> dict[str, Any]:
        return await self._mutate("function_execute", self._prepare_function_execute(
            item=item, run_in_background=run_in_background, user=user, user_group=user_group,
            lock_key=lock_key))

    # -- queue ------------------------------------------------------------------------------
    async def queue_get(self, *, reload: bool = False) -> dict[str, Any]:
        status = await self._status(reload=reload)
        return await self._cached("queue", status.get("plan_queue_uid"), "queue_get",
                                  timeout=self._bulk_timeout("items_in_queue"))

    async def queue_start(self, *, lock_key=None) -> dict[str, Any]:
        return await self._mutate("queue_start", self._lock_only(lock_key))

    async def queue_stop(self, *, lock_key=None) -> dict[str, Any]:
        return await self._mutate("queue_stop", self._lock_only(lock_key))

    async def queue_stop_cancel(self, *, lock_key=None) -> dict[str, Any]:
        return await self._mutate("queue_stop_cancel", self._lock_only(lock_key))

    async def queue_clear(self, *, lock_key=None) -> dict[str, Any]:
        return await self._mutate("queue_clear", self._lock_only(lock_key))

    async def queue_autostart(self, enable: bool, *, lock_key=None) -> dict[str, Any]:
        return await self._mutate("queue_autostart", self._prepare_queue_autostart(
            enable=enable, lock_key=lock_key))

    async def queue_mode_set(self, **kwargs: Any) -> dict[str, Any]:
        return await self._mutate("queue_mode_set", self._prepare_queue_mode_set(**kwargs))

    # -- history ----------------------------------------------------------------------------
    async def history_get(self, *, reload: bool = False) -> dict[str, Any]:
        status = await self._status(reload=reload)
        return await self._cached("history", status.get("plan_history_uid"), "history_get",
                                  timeout=self._bulk_timeout("items_in_history"))

    async def history_get_compact(self, *, reload: bool = False) -> dict[str, Any]:
        """Like :meth:`history_get`, but ``items`` are read-only
        :class:`~.history_entries.HistoryEntry` mappings (the table's fields decoded, the rest
        decoded on demand): several times faster and smaller for a big history. Not part of
        the reference client's API; transports without decode hints return plain dicts."""
        status = await self._status(reload=reload)
        return await self._cached("history_compact", status.get("plan_history_uid"),
                                  "history_get", timeout=self._bulk_timeout("items_in_history"))

    async def history_clear(self, *, size=None, item_uid=None, lock_key=None) -> dict[str, Any]:
        return await self._mutate("history_clear", self._prepare_history_clear(
            size=size, item_uid=item_uid, lock_key=lock_key))

    # -- plans and devices ------------------------------------------------------------------
    async def plans_allowed(self, *, reload: bool = False, user_group=None) -> dict[str, Any]:
        status = await self._status(reload=reload)
        params = self._prepare_plans_devices_allowed(user_group=user_group)
        return await self._cached(f"plans_allowed:{params.get('user_group')}",
                                  status.get("plans_allowed_uid"), "plans_allowed", params)

    async def devices_allowed(self, *, reload: bool = False, user_group=None) -> dict[str, Any]:
        status = await self._status(reload=reload)
        params = self._prepare_plans_devices_allowed(user_group=user_group)
        return await self._cached(f"devices_allowed:{params.get('user_group')}",
                                  status.get("devices_allowed_uid"), "devices_allowed", params)

    async def plans_existing(self, *, reload: bool = False) -> dict[str, Any]:
        status = await self._status(reload=reload)
        return await self._cached("plans_existing", status.get("plans_existing_uid"),
                                  "plans_existing")

    async def devices_existing(self, *, reload: bool = False) -> dict[str, Any]:
        status = await self._status(reload=reload)
        return await self._cached("devices_existing", status.get("devices_existing_uid"),
                                  "devices_existing")

    async def permissions_reload(self, *, restore_plans_devices=None, restore_permissions=None,
                                 lock_key=None) -> dict[str, Any]:
        return await self._mutate("permissions_reload", self._prepare_permissions_reload(
            restore_plans_devices=restore_plans_devices,
            restore_permissions=restore_permissions, lock_key=lock_key))

    async def permissions_get(self) -> dict[str, Any]:
        return await self.send_request(method="permissions_get")

    async def permissions_set(self, user_group_permissions, *, lock_key=None) -> dict[str, Any]:
        params = {"user_group_permissions": user_group_permissions}
        self._add_lock_key(params, lock_key)
        return await self._mutate("permissions_set", params)

    # -- environment and scripts -------------------------------------------------------------
    async def environment_open(self, *, lock_key=None) -> dict[str, Any]:
        return await self._mutate("environment_open", self._lock_only(lock_key))

    async def environment_close(self, *, lock_key=None) -> dict[str, Any]:
        return await self._mutate("environment_close", self._lock_only(lock_key))

    async def environment_destroy(self, *, lock_key=None) -> dict[str, Any]:
        return await self._mutate("environment_destroy", self._lock_only(lock_key))

    async def environment_update(self, *, run_in_background=None,
                                 lock_key=None) -> dict[str, Any]:
        return await self._mutate("environment_update", self._prepare_environment_update(
            run_in_background=run_in_background, lock_key=lock_key))

    async def script_upload(self, script, *, update_lists=None, update_re=None,
                            run_in_background=None, lock_key=None) -> dict[str, Any]:
        return await self._mutate("script_upload", self._prepare_script_upload(
            script=script, update_lists=update_lists, update_re=update_re,
            run_in_background=run_in_background, lock_key=lock_key))

    async def task_status(self, task_uid) -> dict[str, Any]:
        self._clear_status_timestamp()
        return await self.send_request(method="task_status",
                                       params=self._prepare_task_status(task_uid=task_uid))

    async def task_result(self, task_uid) -> dict[str, Any]:
        self._clear_status_timestamp()
        return await self.send_request(method="task_result",
                                       params=self._prepare_task_result(task_uid=task_uid))

    # -- run engine -------------------------------------------------------------------------
    async def re_runs(self, option=None, *, reload: bool = False) -> dict[str, Any]:
        if option not in RE_RUNS_OPTIONS:
            raise IndexError(f"Unsupported option {option!r}. Supported options: {RE_RUNS_OPTIONS}")
        status = await self._status(reload=reload)
        response = await self._cached("re_runs", status.get("run_list_uid"), "re_runs")
        if isinstance(response, dict) and response.get("success") is True and option in (
                "open", "closed"):
            is_open = option == "open"
            response["run_list"] = [r for r in response.get("run_list", [])
                                    if bool(r.get("is_open")) == is_open]
        return response

    async def re_metadata(self) -> dict[str, Any]:
        return await self.send_request(method="re_metadata")

    async def re_pause(self, option=None, *, lock_key=None) -> dict[str, Any]:
        return await self._mutate("re_pause", self._prepare_re_pause(option=option,
                                                                    lock_key=lock_key))

    async def re_resume(self, *, lock_key=None) -> dict[str, Any]:
        return await self._mutate("re_resume", self._lock_only(lock_key))

    async def re_stop(self, *, lock_key=None) -> dict[str, Any]:
        return await self._mutate("re_stop", self._lock_only(lock_key))

    async def re_abort(self, *, lock_key=None) -> dict[str, Any]:
        return await self._mutate("re_abort", self._lock_only(lock_key))

    async def re_halt(self, *, lock_key=None) -> dict[str, Any]:
        return await self._mutate("re_halt", self._lock_only(lock_key))

    async def kernel_interrupt(self, *, interrupt_task=None, interrupt_plan=None,
                               lock_key=None) -> dict[str, Any]:
        return await self._mutate("kernel_interrupt", self._prepare_kernel_interrupt(
            interrupt_task=interrupt_task, interrupt_plan=interrupt_plan, lock_key=lock_key))

    # -- locking ----------------------------------------------------------------------------
    async def lock(self, lock_key=None, *, environment=None, queue=None, note=None,
                   user=None) -> dict[str, Any]:
        return await self._mutate("lock", self._prepare_lock(
            environment=environment, queue=queue, lock_key=lock_key, note=note, user=user))

    async def lock_environment(self, lock_key=None, *, note=None, user=None) -> dict[str, Any]:
        return await self.lock(lock_key, environment=True, note=note, user=user)

    async def lock_queue(self, lock_key=None, *, note=None, user=None) -> dict[str, Any]:
        return await self.lock(lock_key, queue=True, note=note, user=user)

    async def lock_all(self, lock_key=None, *, note=None, user=None) -> dict[str, Any]:
        return await self.lock(lock_key, environment=True, queue=True, note=note, user=user)

    async def lock_info(self, lock_key=None, *, reload: bool = False) -> dict[str, Any]:
        status = await self._status(reload=reload)
        params = self._prepare_lock_info(lock_key=lock_key)
        if lock_key is not None:
            self._cache.drop("lock_info")
        return await self._cached("lock_info", status.get("lock_info_uid"), "lock_info", params)

    async def unlock(self, lock_key=None) -> dict[str, Any]:
        return await self._mutate("unlock", self._prepare_unlock(lock_key=lock_key))

    # -- lifecycle ---------------------------------------------------------------------------
    async def close(self) -> None:
        """Release every socket and context this client created."""
        self._closed = True
        self._close_monitors()
        self._transport.close()


class REManagerAPI(REManagerAPIBase):
    """Asyncio client for the RE Manager 0MQ control socket."""

    def __init__(
        self, *, zmq_control_addr: str | None = None, zmq_info_addr: str | None = None,
        zmq_encoding: str | None = None, timeout_recv: float = 2.0, timeout_send: float = 0.5,
        console_monitor_poll_timeout: float = 1.0, console_monitor_max_msgs: int = 10000,
        console_monitor_max_lines: int = 1000, system_info_monitor_poll_timeout: float = 1.0,
        system_info_monitor_max_msgs: int = 10000, zmq_public_key: str | None = None,
        request_fail_exceptions: bool = True, status_expiration_period: float = 0.5,
        status_polling_period: float = 1.0, loop: Any = None, read_only: bool = False,
        transport: Transport | None = None, bulk_timeout_per_item: float = 2e-4,
        reuse_unchanged_items: bool = False,
    ):
        super().__init__()
        env = os.environ
        self._zmq_control_addr = (zmq_control_addr or env.get("QSERVER_ZMQ_CONTROL_ADDRESS")
                                  or DEFAULT_CONTROL_ADDR)
        self._zmq_info_addr = (zmq_info_addr or env.get("QSERVER_ZMQ_INFO_ADDRESS")
                               or DEFAULT_INFO_ADDR)
        self._zmq_encoding = zmq_encoding or "json"
        public_key = zmq_public_key or env.get("QSERVER_ZMQ_PUBLIC_KEY") or None
        if public_key:
            validate_curve_key(public_key)
        self._zmq_public_key = public_key
        self._init_api(
            transport=transport or ZMQTransport(
                self._zmq_control_addr, timeout_recv=timeout_recv, timeout_send=timeout_send,
                public_key=public_key, encoding=self._zmq_encoding),
            timeout_recv=timeout_recv, request_fail_exceptions=request_fail_exceptions,
            status_expiration_period=status_expiration_period,
            status_polling_period=status_polling_period, read_only=read_only,
            bulk_timeout_per_item=bulk_timeout_per_item,
            reuse_unchanged_items=reuse_unchanged_items,
            console={"poll_timeout": console_monitor_poll_timeout,
                     "max_msgs": console_monitor_max_msgs,
                     "max_lines": console_monitor_max_lines},
            system_info={"poll_timeout": system_info_monitor_poll_timeout,
                         "max_msgs": system_info_monitor_max_msgs})

    @property
    def protocol(self) -> Protocols:
        return Protocols.ZMQ

    @property
    def server_address(self) -> str:
        return self._zmq_control_addr

    @property
    def zmq_control_addr(self) -> str:
        return self._zmq_control_addr

    @property
    def zmq_info_addr(self) -> str:
        return self._zmq_info_addr

    def _source(self, topic: str) -> InfoMonitor:
        return InfoMonitor(self._zmq_info_addr, topics=(topic,), encoding=self._zmq_encoding)

    def _new_info_monitor(self, topics: tuple[str, ...]) -> InfoMonitor:
        return InfoMonitor(self._zmq_info_addr, topics=topics, encoding=self._zmq_encoding)
