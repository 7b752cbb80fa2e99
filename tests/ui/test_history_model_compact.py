"""The history table over compact entries (client/history_entries): the same cells, sort keys
and filter texts as over dicts; plain dicts for whoever takes an item out of it."""

from __future__ import annotations

import asyncio
import json
import os
import random

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt5.QtCore import Qt  # noqa: E402

from qs_gui.core.history_items import HistoryEntry  # noqa: E402
from qs_gui.sandbox.seeding import history_entry  # noqa: E402
from qs_gui.ui.history_model import SEARCH_ROLE, HistoryModel  # noqa: E402
from qs_gui.ui.item_table import ITEM_ROLE, SORT_ROLE  # noqa: E402


def entries_and_dicts(n: int):
    from qs_gui.client.history_entries import EntryDecoder  # the test builds what the client does
    from qs_gui.client.jsonstream import loads_async

    rng = random.Random(5)
    items = [history_entry(rng, i, 1.7e9) for i in range(n)]
    data = json.dumps({"items": items}).encode()
    return asyncio.run(loads_async(data, reuse=EntryDecoder()))["items"], items


def table(model: HistoryModel, role: int) -> list[list]:
    return [[model.data(model.index(r, c), role) for c in range(model.columnCount())]
            for r in range(model.rowCount())]


def test_compact_rows_read_like_dict_rows(qtbot):
    entries, items = entries_and_dicts(120)
    assert all(type(e) is HistoryEntry for e in entries)
    compact, plain = HistoryModel(), HistoryModel()
    compact.set_history(entries)
    plain.set_history(items)
    for role in (Qt.DisplayRole, SORT_ROLE, Qt.ToolTipRole, Qt.ForegroundRole):
        assert table(compact, role) == table(plain, role), role
    assert [compact.search_text(r) for r in range(120)] == [plain.search_text(r)
                                                             for r in range(120)]
    assert compact.data(compact.index(53, 0), SEARCH_ROLE) == plain.data(plain.index(53, 0),
                                                                         SEARCH_ROLE)
    tip = compact.data(compact.index(53, HistoryModel.MESSAGE), Qt.ToolTipRole)
    assert items[53]["result"]["traceback"] and items[53]["result"]["traceback"] in tip
    for r in (0, 53, 119):
        taken = compact.item_at(r)
        assert type(taken) is dict and taken == items[r]
        assert compact.data(compact.index(r, 0), ITEM_ROLE) == items[r]
        assert compact.uid_at(r) == items[r]["item_uid"]
        assert compact.exit_status_at(r) == items[r]["result"]["exit_status"]
    assert compact.item_at(120) is None and compact.uid_at(-1) is None
