"""Qt-free asyncio client for the Bluesky Queue Server (RE Manager) over 0MQ.

Mirrors ``bluesky_queueserver_api.zmq.aio.REManagerAPI`` (names, parameters, return dicts,
exceptions) without depending on it.
"""

from .api import READ_ONLY_METHODS, REManagerAPI
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
from .items import BFunc, BInst, BItem, BPlan
from .monitor import CONSOLE_TOPIC, STATUS_TOPIC, InfoMessage, InfoMonitor
from .protocols import Protocols
from .stream_monitors import ConsoleMonitor, SystemInfoMonitor
from .waiting import WaitMonitor

__all__ = [
    "BFunc", "BInst", "BItem", "BPlan", "CONSOLE_TOPIC", "ClientClosedError", "ConsoleMonitor",
    "HTTPClientError", "HTTPRequestError", "HTTPServerError", "InfoMessage", "InfoMonitor",
    "Protocols", "READ_ONLY_METHODS", "REManagerAPI", "ReadOnlyError", "RequestFailedError",
    "RequestParameterError", "RequestTimeoutError", "STATUS_TOPIC", "SystemInfoMonitor",
    "WaitCancelError", "WaitMonitor", "WaitTimeoutError",
]
