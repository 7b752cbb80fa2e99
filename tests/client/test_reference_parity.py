"""qs-gui's client offers what the reference async 0MQ client offers, under the same names,
parameters and defaults (the behaviour is tested by the reference's own suite: tests/reference).
"""

import inspect

import pytest

from qs_gui.client import (
    ConsoleMonitor,
    HTTPClientError,
    HTTPRequestError,
    HTTPServerError,
    Protocols,
    REManagerAPI,
    SystemInfoMonitor,
    WaitMonitor,
)
from qs_gui.client.exceptions import HTTPError, HTTPStatusError

reference = pytest.importorskip("bluesky_queueserver_api")
from bluesky_queueserver_api.console_monitor import ConsoleMonitor_ZMQ_Async  # noqa: E402
from bluesky_queueserver_api.system_info_monitor import SystemInfoMonitor_ZMQ_Async  # noqa: E402
from bluesky_queueserver_api.zmq.aio import REManagerAPI as ReferenceAPI  # noqa: E402

#: deliberately absent: qs-gui never writes a lock key to disk (tests/reference/conftest.py)
NOT_OFFERED = {"default_lock_key_path", "get_default_lock_key", "set_default_lock_key"}

PAIRS = [
    (REManagerAPI, ReferenceAPI, NOT_OFFERED),
    (ConsoleMonitor, ConsoleMonitor_ZMQ_Async, set()),
    (SystemInfoMonitor, SystemInfoMonitor_ZMQ_Async, set()),
    (WaitMonitor, reference.WaitMonitor, set()),
]

IDS = [ours.__name__ for ours, _, _ in PAIRS]


def public(cls) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


@pytest.mark.parametrize(("ours", "theirs", "absent"), PAIRS, ids=IDS)
def test_every_public_name_is_offered(ours, theirs, absent):
    assert public(theirs) - public(ours) == absent


@pytest.mark.parametrize(("ours", "theirs", "absent"), PAIRS, ids=IDS)
def test_parameters_and_defaults_agree(ours, theirs, absent):
    """Each reference parameter exists with the same kind and default; ours may add
    keyword-only parameters with defaults (``send_request(timeout=)``)."""
    for name in sorted(public(theirs) - absent):
        mine, ref = inspect.getattr_static(ours, name), inspect.getattr_static(theirs, name)
        if not inspect.isfunction(ref):
            continue
        assert inspect.iscoroutinefunction(mine) == inspect.iscoroutinefunction(ref), name
        mine_params = inspect.signature(mine).parameters
        for pname, param in inspect.signature(ref).parameters.items():
            assert pname in mine_params, (name, pname)
            assert mine_params[pname].kind == param.kind, (name, pname)
            assert mine_params[pname].default == param.default, (name, pname)
        extra = set(mine_params) - set(inspect.signature(ref).parameters)
        assert all(mine_params[p].kind == inspect.Parameter.KEYWORD_ONLY
                   and mine_params[p].default is not inspect.Parameter.empty for p in extra), name


def test_protocol_and_exception_tree():
    rm = REManagerAPI(zmq_control_addr="tcp://127.0.0.1:9")
    assert rm.protocol == rm.Protocols("ZMQ") == Protocols.ZMQ == "ZMQ"
    assert issubclass(HTTPRequestError, HTTPError) and not issubclass(HTTPRequestError,
                                                                      HTTPStatusError)
    assert issubclass(HTTPClientError, HTTPStatusError)
    assert issubclass(HTTPServerError, HTTPStatusError) and issubclass(HTTPStatusError, HTTPError)
    error = HTTPClientError("Not found", request="GET /x", response=404)
    assert (str(error), error.request, error.response) == ("Not found", "GET /x", 404)
    for name in ("HTTPRequestError", "HTTPClientError", "HTTPServerError",
                 "RequestTimeoutError", "RequestFailedError", "RequestParameterError",
                 "WaitTimeoutError", "WaitCancelError"):
        assert getattr(REManagerAPI, name).__name__ == getattr(ReferenceAPI, name).__name__
