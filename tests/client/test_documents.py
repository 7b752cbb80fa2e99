"""DocumentSubscriber and DocumentPump against a local PUB (plain asyncio, no Qt, no server)."""

from __future__ import annotations

import asyncio
import json
import logging
import pickle

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qs_gui.client import documents as documents_module
from qs_gui.client.documents import DocumentPump, DocumentSubscriber, classify

from .fakes import LoopbackPub

EVENT = {"uid": "e1", "time": 1.5, "seq_num": 1, "descriptor": "d1",
         "data": {"motor": -1.0, "det1": 5.0}, "timestamps": {}, "filled": {}}  # fmt: skip


def run(coro, timeout: float = 20.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def frame(name: str, doc: object, *, prefix: bytes = b"", codec: str = "json") -> bytes:
    payload = json.dumps(doc).encode() if codec == "json" else msgpack.packb(doc)
    return b" ".join([prefix, name.encode(), payload])


def publisher() -> LoopbackPub:
    return LoopbackPub(lambda: frame("probe", {"probe": True}))


async def collect(sub: DocumentSubscriber, n: int, timeout: float = 2.0) -> list:
    out = []
    while len(out) < n:
        doc = await sub.next(timeout=timeout)
        if doc is None:
            break
        out.append(doc)
    return out


# -- payload detection ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "payload, kind",
    [
        (json.dumps(EVENT).encode(), "json"),
        (b"  \n{}", "json"),
        (msgpack.packb(EVENT), "msgpack"),
        (msgpack.packb({"k": list(range(20)), **{str(i): i for i in range(20)}}), "msgpack"),
        (msgpack.packb({}), "msgpack"),
        (pickle.dumps(EVENT), "pickle"),
        (pickle.dumps(EVENT, protocol=2), "pickle"),
        (b"", None),
        (b"[1, 2]", None),
        (b"\x00garbage", None),
    ],
)
def test_classify(payload: bytes, kind: str | None) -> None:
    assert classify(payload) == kind


# -- receiving -----------------------------------------------------------------------------------
def test_json_and_msgpack_documents_are_decoded_in_order() -> None:
    async def scenario() -> None:
        pub = publisher()
        sub = DocumentSubscriber(pub.address)
        try:
            await pub.join(sub)
            await pub.send(frame("start", {"uid": "r1"}), frame("event", EVENT, codec="msgpack"),
                           frame("stop", {"run_start": "r1", "exit_status": "success"}))
            docs = await collect(sub, 3)
            assert [n for n, _ in docs] == ["start", "event", "stop"]
            assert docs[1][1] == EVENT
            assert sub.stats() == {"received": 3, "malformed": 0, "refused": 0, "oversized": 0}
        finally:
            sub.close()
            pub.close()

    run(scenario())


def test_prefix_filters_other_publishers_and_empty_prefix_takes_all() -> None:
    async def scenario() -> None:
        pub = publisher()
        mine = DocumentSubscriber(pub.address, prefix=b"beamline")
        everyone = DocumentSubscriber(pub.address)
        try:
            await pub.join(everyone)
            mine.start()
            for _ in range(100):  # join `mine` too: it only sees frames with its prefix
                await pub.send(frame("probe", {}, prefix=b"beamline"))
                if await mine.next(0.02):
                    break
            mine.drain()
            everyone.drain()
            await pub.send(frame("event", EVENT, prefix=b"other"),
                           frame("event", EVENT, prefix=b"beamline"), frame("event", EVENT))
            assert len(await collect(everyone, 3)) == 3
            got = await collect(mine, 1)
            assert got == [("event", EVENT)]
            assert await mine.next(timeout=0.2) is None
            assert mine.malformed == 0
        finally:
            mine.close()
            everyone.close()
            pub.close()

    run(scenario())


def test_malformed_frames_are_counted_and_skipped() -> None:
    garbage = [
        b"no-spaces-at-all",
        b" event",  # two parts only
        b" EVENT " + json.dumps(EVENT).encode(),  # not a document name
        b" event {not json",
        b" event [1, 2, 3]",  # valid JSON, not a mapping
        b" event " + msgpack.packb([1, 2]),
        b" event \xde\x00\x05",  # truncated msgpack map
        b"\xff\xfe \xff event",
        [b" event", json.dumps(EVENT).encode()],  # two frames instead of one
        b"",
    ]

    async def scenario() -> None:
        pub = publisher()
        sub = DocumentSubscriber(pub.address)
        try:
            await pub.join(sub)
            await pub.send(*garbage, frame("event", EVENT))
            assert await collect(sub, 1) == [("event", EVENT)]  # the stream goes on
            assert sub.malformed == len(garbage)
            assert sub.refused == 0
            assert sub.received == len(garbage) + 1
        finally:
            sub.close()
            pub.close()

    run(scenario())


def test_pickle_refused_by_default_and_never_unpickled(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*_a: object, **_k: object) -> None:
        raise AssertionError("pickle.loads called on network data")

    monkeypatch.setattr(documents_module.pickle, "loads", forbidden)

    async def scenario() -> None:
        pub = publisher()
        sub = DocumentSubscriber(pub.address)
        try:
            assert sub.pickle_enabled is False
            await pub.join(sub)
            await pub.send(b" event " + pickle.dumps(EVENT), b" start " + pickle.dumps({}),
                           frame("event", EVENT))  # fmt: skip
            assert await collect(sub, 1) == [("event", EVENT)]
            assert (sub.refused, sub.malformed) == (2, 0)
        finally:
            sub.close()
            pub.close()

    run(scenario())


def test_pickle_opt_in_decodes_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        pub = publisher()
        with caplog.at_level(logging.WARNING, logger="qs_gui.client.documents"):
            sub = DocumentSubscriber(pub.address, allow_pickle=True)
        assert any("Pickle payloads are ENABLED" in r.message for r in caplog.records)
        try:
            assert sub.pickle_enabled is True
            await pub.join(sub)
            await pub.send(b" event " + pickle.dumps(EVENT))
            assert await collect(sub, 1) == [("event", EVENT)]
            assert sub.refused == 0
        finally:
            sub.close()
            pub.close()

    run(scenario())


def test_decoders_option_restricts_formats() -> None:
    async def scenario() -> None:
        pub = publisher()
        sub = DocumentSubscriber(pub.address, decoders=("json",))
        try:
            await pub.join(sub)
            await pub.send(frame("event", EVENT, codec="msgpack"), frame("event", EVENT))
            assert await collect(sub, 1) == [("event", EVENT)]
            assert sub.malformed == 1
        finally:
            sub.close()
            pub.close()

    run(scenario())


@pytest.mark.parametrize("kwargs", [{"decoders": ()}, {"decoders": ("pickle",)},
                                    {"prefix": b"a b"}, {"prefix": "text"}])  # fmt: skip
def test_bad_options_raise(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        DocumentSubscriber("tcp://127.0.0.1:1", **kwargs)


def test_next_times_out_and_drain_respects_limit() -> None:
    async def scenario() -> None:
        pub = publisher()
        sub = DocumentSubscriber(pub.address)
        try:
            await pub.join(sub)
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            assert await sub.next(timeout=0.15) is None
            assert 0.1 <= loop.time() - t0 < 1.0
            await pub.send(*[frame("event", {**EVENT, "seq_num": i}) for i in range(50)])
            await asyncio.sleep(0.2)
            first = sub.drain(limit=20)
            rest = sub.drain()
            assert [d["seq_num"] for _, d in first + rest] == list(range(50))
            assert len(first) == 20
            assert sub.drain() == []
        finally:
            sub.close()
            pub.close()

    run(scenario())


def test_oversized_frames_are_skipped_before_decoding() -> None:
    async def scenario() -> None:
        pub = publisher()
        sub = DocumentSubscriber(pub.address, max_bytes=1000)
        try:
            await pub.join(sub)
            big = frame("event", {**EVENT, "data": {"det1": list(range(500))}})
            huge = b" event {" + b" " * 5_000_000 + b"}"
            await pub.send(big, huge, frame("event", EVENT))
            assert await collect(sub, 1) == [("event", EVENT)]  # the feed goes on
            assert sub.oversized == 2 and sub.malformed == 0
        finally:
            sub.close()
            pub.close()

    run(scenario())


def test_drain_budget_hands_back_with_a_backlog_flag() -> None:
    async def scenario() -> None:
        pub = publisher()
        sub = DocumentSubscriber(pub.address)
        try:
            await pub.join(sub)
            await pub.send(*[frame("event", {**EVENT, "seq_num": i}) for i in range(3000)])
            await asyncio.sleep(0.3)
            first = sub.drain(budget=0.0)  # stops after the first 32 reads
            assert len(first) == 32 and sub.backlog
            rest = sub.drain()
            assert len(first) + len(rest) == 3000 and not sub.backlog
        finally:
            sub.close()
            pub.close()

    run(scenario())


# -- the pump ------------------------------------------------------------------------------------
def test_pump_batches_a_burst_and_survives_a_failing_callback() -> None:
    batches: list[list] = []

    def callback(batch: list) -> None:
        batches.append(batch)
        if len(batches) == 1:
            raise RuntimeError("a broken consumer")

    async def scenario() -> None:
        pub = publisher()
        sub = DocumentSubscriber(pub.address)
        pump = DocumentPump(sub, callback, interval=0.05, batch_limit=300)
        try:
            await pub.join(sub)
            pump.start()
            await pub.send(frame("event", EVENT))
            for _ in range(100):
                if batches:
                    break
                await asyncio.sleep(0.01)
            await pub.send(*[frame("event", {**EVENT, "seq_num": i}) for i in range(1000)])
            for _ in range(300):
                if pump.documents >= 1001:
                    break
                await asyncio.sleep(0.01)
            assert pump.documents == 1001
            assert pump.callback_errors == 1
            assert pump.running
            assert len(batches) <= 8  # 1000 documents in a few batches, not 1000 callbacks
            assert max(len(b) for b in batches) <= 300
            seqs = [d["seq_num"] for b in batches[1:] for _, d in b]
            assert seqs == list(range(1000))
        finally:
            await pump.stop()
            assert not pump.running
            sub.close()
            pub.close()

    run(scenario())


def test_pump_ends_when_the_subscriber_closes() -> None:
    async def scenario() -> None:
        pub = publisher()
        sub = DocumentSubscriber(pub.address)
        pump = DocumentPump(sub, lambda batch: None)
        task = pump.start()
        await asyncio.sleep(0.05)
        sub.close()
        await pump.stop()
        assert task.done()
        pub.close()

    run(scenario())


# -- fuzzing -------------------------------------------------------------------------------------
_names = st.sampled_from([b"start", b"event", b"stop", b"EVENT", b"", b"x" * 40, b"\xff"])
_payloads = st.one_of(
    st.binary(max_size=64),
    st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
                 lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5), c,
                                                                     max_size=4),
                 max_leaves=12).map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=32).map(lambda b: b"\x80\x04" + b),  # pickle-looking
    st.binary(max_size=32).map(lambda b: b"\xde" + b),  # msgpack-map-looking
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=80),
                          st.tuples(st.binary(max_size=4).filter(lambda p: b" " not in p),
                                    _names, _payloads).map(lambda t: b" ".join(t))),
                min_size=1, max_size=3))  # fmt: skip
def test_parse_never_raises(frames: list[bytes]) -> None:
    sub = DocumentSubscriber("tcp://127.0.0.1:1")  # no socket is created by parse()
    result = sub.parse(frames)
    if result is not None:
        name, doc = result
        assert isinstance(name, str) and isinstance(doc, dict)
    assert sub.malformed + sub.refused + (result is not None) <= 1
