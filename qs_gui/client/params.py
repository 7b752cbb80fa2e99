"""Request parameters, built exactly as the reference client puts them on the wire.

Rules (``bluesky_queueserver_api.api_base``): ``params`` is always a dict; optional arguments that
are ``None`` are omitted; item methods carry ``user``/``user_group`` (explicit argument wins over
the client default); ``lock_key`` is sent when given, or the current key when the locked API is
enabled. These builders hold the user/group/lock-key state; the async API sends what they build.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable, Mapping
from typing import Any

from .exceptions import RequestParameterError
from .items import BItem

DEFAULT_USER = "Queue Server API User"
DEFAULT_USER_GROUP = "primary"
RE_RUNS_OPTIONS = (None, "active", "open", "closed")


def _item_to_dict(item: Any) -> dict[str, Any]:
    """A queue item as a dict: ours, a mapping, or anything with the item interface
    (``to_dict()``: the reference's BItem/BPlan/BInst/BFunc, say)."""
    if isinstance(item, BItem):
        return item.to_dict()
    if isinstance(item, Mapping):
        return dict(item).copy()
    to_dict = getattr(item, "to_dict", None)
    if callable(to_dict):
        item_dict = to_dict()
        if isinstance(item_dict, Mapping):
            return dict(item_dict)
    raise TypeError(f"Incorrect item type {type(item)!r}. Expected type: 'BItem' or 'dict'")


def _add(params: dict[str, Any], name: str, value: Any) -> None:
    if value is not None:
        params[name] = value


def validate_lock_key(lock_key: Any) -> None:
    if lock_key is not None and (not isinstance(lock_key, str) or not lock_key):
        raise ValueError(
            f"Parameter 'lock_key' must be non-empty string or None: lock_key={lock_key!r}"
        )


def _check_name(name: Any, name_in_msg: str) -> None:
    if not isinstance(name, str):
        raise ValueError(f"{name_in_msg} {name!r} is not a string: type {type(name)!r}")
    if not name:
        raise ValueError(f"{name_in_msg} is an empty string.")


class RequestBuilder:
    """User identity and lock key, and the ``_prepare_*`` builders that use them."""

    #: False over HTTP: the gateway writes the logged-in user's name and group into every item,
    #: lock and allowed-plans request, so ``user``/``user_group`` are accepted and not sent
    _pass_user_info = True

    def __init__(self) -> None:
        self._user = DEFAULT_USER
        self._user_group = DEFAULT_USER_GROUP
        self._lock_key: str | None = None
        self._enable_locked_api = False

    # -- identity and lock key --------------------------------------------------------------
    @property
    def user(self) -> str:
        """Default user name sent with item requests."""
        return self._user

    @user.setter
    def user(self, user: str) -> None:
        _check_name(user, "User name")
        self._user = user

    @property
    def user_group(self) -> str:
        """Default user group sent with item requests."""
        return self._user_group

    @user_group.setter
    def user_group(self, user_group: str) -> None:
        _check_name(user_group, "User group name")
        self._user_group = user_group

    def set_user_name_to_login_name(self) -> None:
        self.user = getpass.getuser()

    @property
    def lock_key(self) -> str | None:
        """Current lock key (memory only); ``None`` clears it and disables the locked API."""
        return self._lock_key

    @lock_key.setter
    def lock_key(self, lock_key: str | None) -> None:
        validate_lock_key(lock_key)
        if not lock_key:
            self._enable_locked_api = False
        self._lock_key = lock_key

    @property
    def enable_locked_api(self) -> bool:
        """Send the current lock key with every lockable request."""
        return self._enable_locked_api

    @enable_locked_api.setter
    def enable_locked_api(self, enable: bool) -> None:
        if not isinstance(enable, bool):
            raise TypeError("The property may be set only to boolean values")
        if not self._lock_key:
            raise RuntimeError("Failed to enable locked API: current lock key is not set")
        self._enable_locked_api = enable

    # -- shared pieces ----------------------------------------------------------------------
    def _add_user_info(self, params: dict[str, Any], user: str | None,
                       user_group: str | None) -> None:
        if not self._pass_user_info:
            return
        params["user"] = user if user else self._user
        params["user_group"] = user_group if user_group else self._user_group

    def _add_lock_key(self, params: dict[str, Any], lock_key: str | None) -> None:
        validate_lock_key(lock_key)
        if not lock_key and self._enable_locked_api:
            lock_key = self._lock_key
        if lock_key:
            params["lock_key"] = lock_key

    def _lock_only(self, lock_key: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {}
        self._add_lock_key(params, lock_key)
        return params

    # -- queue items --------------------------------------------------------------------------
    def _prepare_item_add(self, *, item, pos, before_uid, after_uid, user, user_group, lock_key):
        params: dict[str, Any] = {"item": _item_to_dict(item)}
        _add(params, "pos", pos)
        _add(params, "before_uid", before_uid)
        _add(params, "after_uid", after_uid)
        self._add_user_info(params, user, user_group)
        self._add_lock_key(params, lock_key)
        return params

    def _prepare_item_add_batch(self, *, items, pos, before_uid, after_uid, user, user_group,
                                lock_key):
        if not isinstance(items, Iterable) or isinstance(items, (str, Mapping)):
            raise TypeError(f"Parameter ``items`` must be iterable: type(items)={type(items)!r}")
        params: dict[str, Any] = {"items": [_item_to_dict(item) for item in items]}
        _add(params, "pos", pos)
        _add(params, "before_uid", before_uid)
        _add(params, "after_uid", after_uid)
        self._add_user_info(params, user, user_group)
        self._add_lock_key(params, lock_key)
        return params

    def _prepare_item_update(self, *, item, replace, user, user_group, lock_key):
        params: dict[str, Any] = {"item": _item_to_dict(item)}
        _add(params, "replace", replace)
        self._add_user_info(params, user, user_group)
        self._add_lock_key(params, lock_key)
        return params

    def _prepare_item_move(self, *, pos, uid, pos_dest, before_uid, after_uid, lock_key):
        params: dict[str, Any] = {}
        for name, value in (("pos", pos), ("uid", uid), ("pos_dest", pos_dest),
                            ("before_uid", before_uid), ("after_uid", after_uid)):
            _add(params, name, value)
        self._add_lock_key(params, lock_key)
        return params

    def _prepare_item_move_batch(self, *, uids, pos_dest, before_uid, after_uid, reorder,
                                 lock_key):
        params: dict[str, Any] = {}
        for name, value in (("uids", uids), ("pos_dest", pos_dest), ("before_uid", before_uid),
                            ("after_uid", after_uid), ("reorder", reorder)):
            _add(params, name, value)
        self._add_lock_key(params, lock_key)
        return params

    def _prepare_item_get(self, *, pos, uid):
        params: dict[str, Any] = {}
        _add(params, "pos", pos)
        _add(params, "uid", uid)
        return params

    def _prepare_item_remove(self, *, pos, uid, lock_key):
        params = self._prepare_item_get(pos=pos, uid=uid)
        self._add_lock_key(params, lock_key)
        return params

    def _prepare_item_remove_batch(self, *, uids, ignore_missing, lock_key):
        params: dict[str, Any] = {"uids": uids}
        _add(params, "ignore_missing", ignore_missing)
        self._add_lock_key(params, lock_key)
        return params

    def _prepare_item_execute(self, *, item, user, user_group, lock_key):
        params: dict[str, Any] = {"item": _item_to_dict(item)}
        self._add_user_info(params, user, user_group)
        self._add_lock_key(params, lock_key)
        return params

    def _prepare_function_execute(self, *, item, run_in_background, user, user_group, lock_key):
        params: dict[str, Any] = {"item": _item_to_dict(item)}
        _add(params, "run_in_background", run_in_background)
        self._add_user_info(params, user, user_group)
        self._add_lock_key(params, lock_key)
        return params

    # -- queue, history, environment --------------------------------------------------------
    def _prepare_history_clear(self, *, size, item_uid, lock_key):
        params = self._lock_only(lock_key)
        _add(params, "size", size)
        _add(params, "item_uid", item_uid)
        return params

    def _prepare_queue_autostart(self, *, enable, lock_key):
        params: dict[str, Any] = {"enable": bool(enable)}
        self._add_lock_key(params, lock_key)
        return params

    def _prepare_queue_mode_set(self, **kwargs):
        lock_key = kwargs.pop("lock_key", None)
        params: dict[str, Any] = {"mode": kwargs["mode"]} if "mode" in kwargs else {"mode": kwargs}
        self._add_lock_key(params, lock_key)
        return params

    def _prepare_plans_devices_allowed(self, *, user_group):
        if not self._pass_user_info:
            return {}
        return {"user_group": user_group if user_group else self._user_group}

    def _prepare_environment_update(self, *, run_in_background, lock_key):
        params: dict[str, Any] = {}
        _add(params, "run_in_background", run_in_background)
        self._add_lock_key(params, lock_key)
        return params

    def _prepare_permissions_reload(self, *, restore_plans_devices, restore_permissions, lock_key):
        params: dict[str, Any] = {}
        _add(params, "restore_plans_devices", restore_plans_devices)
        _add(params, "restore_permissions", restore_permissions)
        self._add_lock_key(params, lock_key)
        return params

    def _prepare_script_upload(self, *, script, update_lists, update_re, run_in_background,
                               lock_key):
        params: dict[str, Any] = {"script": script}
        _add(params, "update_lists", update_lists)
        _add(params, "update_re", update_re)
        _add(params, "run_in_background", run_in_background)
        self._add_lock_key(params, lock_key)
        return params

    def _prepare_re_pause(self, *, option, lock_key):
        params: dict[str, Any] = {}
        _add(params, "option", option)
        self._add_lock_key(params, lock_key)
        return params

    def _prepare_kernel_interrupt(self, *, interrupt_task, interrupt_plan, lock_key):
        params: dict[str, Any] = {}
        _add(params, "interrupt_task", interrupt_task)
        _add(params, "interrupt_plan", interrupt_plan)
        self._add_lock_key(params, lock_key)
        return params

    @staticmethod
    def _prepare_task_status(*, task_uid):
        if isinstance(task_uid, str):
            return {"task_uid": task_uid}
        if isinstance(task_uid, Iterable):
            return {"task_uid": list(task_uid)}
        raise RequestParameterError(
            f"Invalid type of parameter 'task_uid' ({type(task_uid)}). "
            "String or iterable (list) is expected."
        )

    @staticmethod
    def _prepare_task_result(*, task_uid):
        if not isinstance(task_uid, str):
            raise RequestParameterError(
                f"Invalid type of parameter 'task_uid' ({type(task_uid)}). String is expected."
            )
        return {"task_uid": task_uid}

    # -- locking ----------------------------------------------------------------------------
    def _prepare_lock(self, *, environment, queue, lock_key, note, user):
        validate_lock_key(lock_key)
        lock_key = lock_key or self._lock_key
        if not lock_key:
            raise RuntimeError("Failed to format the 'lock' request: Lock key is not set")
        if not isinstance(note, (str, type(None))):
            raise ValueError(f"Parameter 'note' must be a string or None: note={note!r}")
        params: dict[str, Any] = {}
        if environment:
            params["environment"] = True
        if queue:
            params["queue"] = True
        params["lock_key"] = lock_key
        if self._pass_user_info:
            params["user"] = user if user else self._user
        if note:
            params["note"] = note
        return params

    def _prepare_unlock(self, *, lock_key):
        validate_lock_key(lock_key)
        lock_key = lock_key or self._lock_key
        if not lock_key:
            raise RuntimeError("Failed to format the 'unlock' request: Lock key is not set")
        return {"lock_key": lock_key}

    @staticmethod
    def _prepare_lock_info(*, lock_key):
        validate_lock_key(lock_key)
        return {"lock_key": lock_key}
