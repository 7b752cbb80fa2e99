"""The reference suite's start-re-manager wrapper keeps every bind on loopback (tests/reference)."""

from tests.reference.manager_wrapper import loopback, rewrite

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
