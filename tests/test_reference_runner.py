"""The reference suite's runner (tests/reference): the start-re-manager wrapper keeps every bind
on loopback, the uvicorn shim runs the gateway as given, and QS_GUI_REFERENCE_FACES selects the
cases."""

import pytest

from tests.reference._faces import FACES, face_of, selected_faces
from tests.reference.manager_wrapper import command, loopback, rewrite

REDIS = "127.0.0.1:6400"


def test_all_interfaces_become_loopback():
    assert loopback("tcp://*:60616") == "tcp://127.0.0.1:60616"
    assert loopback("tcp://0.0.0.0:1") == loopback("tcp://localhost:1") == "tcp://127.0.0.1:1"
    assert loopback("tcp://10.0.0.5:60615") == "tcp://10.0.0.5:60615"  # explicit: left alone


def test_defaults_are_explicit_and_redis_private():
    args = rewrite(["--verbose", "--zmq-publish-console", "ON"], REDIS)
    assert args == ["--verbose", "--zmq-publish-console", "ON",
                    "--zmq-control-addr=tcp://127.0.0.1:60615",
                    "--zmq-info-addr=tcp://127.0.0.1:60625",
                    f"--redis-addr={REDIS}", "--ipython-kernel-ip=127.0.0.1"]


def test_given_addresses_in_both_forms_and_aliases():
    args = rewrite(["--zmq-control-addr=tcp://*:60616", "--zmq-publish-console-addr",
                    "tcp://*:60617", "--redis-addr=127.0.0.1:7000"], REDIS)
    assert args == ["--zmq-control-addr=tcp://127.0.0.1:60616",
                    "--zmq-publish-console-addr=tcp://127.0.0.1:60617",
                    "--redis-addr=127.0.0.1:7000", "--ipython-kernel-ip=127.0.0.1"]


# -- which faces run (tests/reference/_faces.py) ----------------------------------------------

def test_default_faces_follow_the_http_client():
    assert selected_faces(None, http=True) == FACES
    assert selected_faces(" ", http=False) == ("zmq-async", "zmq-sync")


def test_named_faces_in_suite_order():
    assert selected_faces("http-sync, ZMQ-SYNC", http=True) == ("zmq-sync", "http-sync")
    assert selected_faces("zmq-sync", http=False) == ("zmq-sync",)


@pytest.mark.parametrize(("value", "http", "match"), [
    ("zmq-threads", True, "unknown face"),
    ("http-async", False, "not importable"),
])
def test_bad_face_lists_are_refused(value, http, match):
    with pytest.raises(ValueError, match=match):
        selected_faces(value, http=http)


@pytest.mark.parametrize(("name", "params", "face"), [
    ("test_status_01", {"protocol": "ZMQ", "library": "ASYNC"}, "zmq-async"),
    ("test_status_01", {"protocol": "ZMQ", "library": "THREADS"}, "zmq-sync"),
    ("test_status_01", {"protocol": "HTTP", "library": "THREADS"}, "http-sync"),
    ("test_instantiation_03_fail", {"protocol": "HTTP"}, "http-async"),  # async-only cases
    ("test_system_info_monitor_auth_01", {"library": "THREADS"}, "http-sync"),
])
def test_face_of_a_case(name, params, face):
    assert face_of(name, params) == face


def test_a_case_without_protocol_must_be_known():
    with pytest.raises(ValueError, match="HTTP_ONLY"):
        face_of("test_new_in_a_later_version", {"library": "ASYNC"})


def test_the_uvicorn_shim_runs_the_real_uvicorn_unchanged(monkeypatch):
    monkeypatch.setenv("QS_REF_REAL_UVICORN", "/venv/bin/uvicorn")
    args = ["--host=localhost", "--port", "60610", "bluesky_httpserver.server:app"]
    assert command("uvicorn", args) == ["/venv/bin/uvicorn", *args]
