"""A 100,000-item history read through the session against a real RE Manager arrives whole, as
compact entries, with the same rows and items the server holds."""

from __future__ import annotations

import os
import random

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qs_gui.core.history_items import HistoryEntry  # noqa: E402
from qs_gui.sandbox.seeding import seed_history  # noqa: E402
from qs_gui.ui.history_model import HistoryModel  # noqa: E402

from .qt_async import run, until  # noqa: E402
from .test_main_window_server import make_window, started  # noqa: E402

pytestmark = pytest.mark.server

N = 100_000


def test_100k_history_arrives_whole_with_correct_rows(qtbot, qloop, env_closed):
    seed_history(env_closed, N)
    reference = env_closed.request("history_get", timeout=60)["items"]
    assert len(reference) == N
    window = make_window(qtbot, env_closed)
    session, model = window.session, window.history_view.model

    async def scenario() -> None:
        await started(window)
        # a history this size is withheld from automatic reads (core/history_policy): the
        # operator's Load now reads it
        await until(lambda: session.history_withheld or len(session.history) == N, 30,
                    message="history read or withheld")
        if len(session.history) != N:
            session.load_history_now()
        await until(lambda: len(session.history) == N and model.rowCount() == N
                    and not model.is_loading(), 90, message=lambda: (
                        f"100k rows shown ({len(session.history)} held, "
                        f"{model.rowCount()} rows)"))

    try:
        run(qloop, scenario(), timeout=150)
        history = session.history
        assert {type(e) for e in history} == {HistoryEntry}  # the compact form, not dicts
        assert [model.uid_at(r) for r in range(N)] == [i["item_uid"] for i in reference]
        assert [model.exit_status_at(r) for r in range(N)] == [
            i["result"]["exit_status"] for i in reference]
        rows = [0, 53, 101, N - 1, *random.Random(3).sample(range(N), 200)]
        for r in rows:
            assert model.item_at(r) == reference[r], r
            name = model.data(model.index(r, HistoryModel.NAME))
            assert name == reference[r]["name"]
        assert failed_status(model, 53) == "● failed"
    finally:
        run(qloop, session.stop(), timeout=30)
        env_closed.request("history_clear")


def failed_status(model: HistoryModel, row: int) -> str:
    return model.data(model.index(row, HistoryModel.STATUS))
