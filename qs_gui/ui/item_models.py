"""Qt table models for the plan queue and the plan history.

Both models hold the server's latest snapshot and change only through :mod:`qs_gui.core.itemdiff`
edit scripts, replayed with the matching ``begin*/end*`` calls: selection, current index and
scroll position stay put while other clients edit the queue. Shared row storage is in
``item_table``; the models are in ``queue_model`` and ``history_model``.
"""

from .history_model import HistoryModel
from .item_table import ITEM_ROLE, MIME_ITEM_UIDS, SORT_ROLE, UID_ROLE
from .queue_model import QueueModel

__all__ = ["HistoryModel", "ITEM_ROLE", "MIME_ITEM_UIDS", "QueueModel", "SORT_ROLE", "UID_ROLE"]
