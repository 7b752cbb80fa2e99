"""The reference client's own test suite as a test of qs-gui's client.

``test_reference_api.py`` and ``test_reference_api_fs.py`` re-export the test functions of
``bluesky_queueserver_api/tests/test_api.py`` and ``test_api_fs.py`` (0.0.13, as installed),
bodies unchanged. The suite picks its client class through its own helper,
``common._select_re_manager_api``, which reads ``common.REManagerAPI_zmq_async`` when called:
that name is pointed at :class:`qs_gui.client.REManagerAPI` for the run. Selection: the 0MQ,
asyncio cases (``protocol == "ZMQ"``, ``library`` absent or ``"ASYNC"``); the others are
deselected until qs-gui has HTTP and synchronous faces.

``QS_GUI_REFERENCE_CLIENT=reference`` runs the same selection on the reference client itself
(nothing substituted, nothing excused), as the baseline.

The deliberate differences are :data:`DELIBERATE_DIFFERENCES`, each a strict expected failure:
nothing else is excused. The servers run on loopback with a private Redis (``_environment``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("bluesky_queueserver_api.tests", reason="bluesky-queueserver-api not installed")
pytest.importorskip("bluesky_httpserver", reason="the reference suite needs bluesky-httpserver")

from bluesky_queueserver.manager.tests import common as server_common  # noqa: E402

# The 0.0.25 server fixtures ask for re_manager_factory, which the 0.0.13 suite does not import.
from bluesky_queueserver.manager.tests.common import re_manager_factory  # noqa: E402, F401

from qs_gui.client import REManagerAPI  # noqa: E402

from . import _environment  # noqa: E402
from ._suite import load_common  # noqa: E402

common = load_common()  # before the test modules import from it

HERE = Path(__file__).parent
CLIENT = os.environ.get("QS_GUI_REFERENCE_CLIENT", "qs-gui")
if CLIENT not in ("qs-gui", "reference"):
    raise ValueError(f"QS_GUI_REFERENCE_CLIENT={CLIENT!r}: use 'qs-gui' or 'reference'")

#: test function -> why qs-gui's client differs on purpose (client-api-semantics.md §12)
DELIBERATE_DIFFERENCES = {
    "test_instantiation_03_fail": (
        "qs-gui's client can be built before the event loop runs and raises no RuntimeError "
        "without a running loop (its sockets are created on first use, inside the loop)"),
    "test_default_lock_key_path_1": (
        "qs-gui never writes a lock key to disk: no default-lock-key file API"),
    "test_default_lock_key_1": (
        "qs-gui never writes a lock key to disk: no get/set_default_lock_key"),
}


def selected(item: pytest.Item) -> bool:
    """0MQ + asyncio: ``protocol == "ZMQ"`` and ``library`` absent (async-only) or "ASYNC"."""
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec is not None else {}
    return params.get("protocol") == "ZMQ" and params.get("library", "ASYNC") == "ASYNC"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    keep, drop = [], []
    for item in items:
        if HERE not in Path(item.path).parents:
            keep.append(item)
        elif not selected(item):
            drop.append(item)
        else:
            reason = DELIBERATE_DIFFERENCES.get(getattr(item, "originalname", item.name))
            if reason and CLIENT == "qs-gui":
                item.add_marker(pytest.mark.xfail(strict=True, reason=reason))
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="package", autouse=True)
def reference_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Fixed ports held, private Redis, loopback-only managers, the client substituted; at the
    end no manager of the suite may be left running."""
    run_dir = tmp_path_factory.mktemp("reference-suite")
    with _environment.fixed_ports(), _environment.private_redis(run_dir) as redis_addr, \
            pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith("QSERVER_")]:
            mp.delenv(name)
        for name, value in _environment.environment(run_dir, redis_addr).items():
            mp.setenv(name, value)
        queue_ops = server_common.PlanQueueOperations

        def private_queue_ops(*args, **kwargs):
            kwargs.setdefault("redis_host", redis_addr)
            return queue_ops(*args, **kwargs)

        mp.setattr(server_common, "PlanQueueOperations", private_queue_ops)  # clear_redis_pool
        if CLIENT == "qs-gui":
            mp.setattr(common, "REManagerAPI_zmq_async", REManagerAPI)
        try:
            yield
        finally:
            left = _environment.stop_leftover_managers(run_dir)
            busy = [p for p in _environment.FIXED_PORTS if not _environment.port_is_free(p)]
            if left or busy:
                raise RuntimeError(f"reference suite left managers {left}, busy ports {busy}")
