"""The gateway's traps (reference/http-protocol.md §1.6, §1.7, §2.9), on the single-user gateway
and on small loopback servers that answer as a proxy or a TLS front end would.

* 408: RE Manager did not answer the gateway within its fixed 2 s (here: the manager process
  SIGSTOPped for about 2 s; its watchdog would restart it after 5 s) — the request may still
  have been applied, and it is never re-sent.
* After a 500 the keep-alive connection is dead: a read is retried once, a write is not.
* Client timeouts, nothing listening, non-JSON error bodies, TLS with a private CA.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from qs_gui.client.exceptions import (
    HTTPClientError,
    HTTPRequestError,
    HTTPServerError,
    RequestTimeoutError,
)
from qs_gui.client.http import REManagerAPI
from qs_gui.client.http_transport import is_gateway_timeout, is_permission_error
from qs_gui.client.monitor import STATUS_TOPIC
from qs_gui.sandbox import Sandbox
from tests.client.http.support import RequestLog, run
from tests.helpers import STOP_LIMIT, manager_pid, manager_stopped, wait_for

pytestmark = pytest.mark.server

PLAN = {"item_type": "plan", "name": "count", "args": [["det1"]], "kwargs": {"num": 7}}


def client(sb: Sandbox, **kwargs) -> tuple[REManagerAPI, RequestLog]:
    api = REManagerAPI(http_server_uri=sb.http_uri, **kwargs)
    api.set_authorization_key(api_key=sb.http_api_key)
    return api, RequestLog().attach(api.transport.client())


def manager_answers(sb: Sandbox) -> bool:
    try:
        return bool(sb.request("status", timeout=0.5))
    except TimeoutError:
        return False


def test_408_while_the_manager_hangs_and_the_add_still_happened(http_env_closed: Sandbox):
    sb = http_env_closed
    pid_before = manager_pid(sb)

    async def add_while_stopped():
        api, log = client(sb)
        try:
            await api.status()
            sent_before = api.transport.requests_sent
            with manager_stopped(sb):
                t0 = time.monotonic()
                with pytest.raises(HTTPClientError) as info:
                    await api.item_add(PLAN)
                elapsed = time.monotonic() - t0
            return info.value, elapsed, api.transport.requests_sent - sent_before, log
        finally:
            await api.close()

    ex, elapsed, sent, log = run(add_while_stopped())
    assert is_gateway_timeout(ex) and ex.response.status_code == 408
    assert str(ex).startswith("408: Request timeout: ZMQ communication error: timeout occurred")
    assert not is_permission_error(ex)
    assert 1.8 < elapsed < STOP_LIMIT
    assert sent == 1
    assert [f"{s.method} {s.path}" for s in log.sent[1:]] == ["POST /api/queue/item/add"]
    # applied anyway, once: RE Manager read the request when it resumed
    queue = wait_for(lambda: manager_answers(sb) and sb.request("queue_get"), 10, 0.1,
                     "the manager to answer again")
    queue = wait_for(lambda: (q := sb.request("queue_get"))["items"] and q, 5, 0.05,
                     "the added item")
    assert [item["kwargs"] for item in queue["items"]] == [{"num": 7}]

    async def read_while_stopped():
        api, log = client(sb)
        try:
            with manager_stopped(sb), pytest.raises(HTTPClientError) as info:
                await api.status(reload=True)
            return info.value, log
        finally:
            await api.close()

    ex, log = run(read_while_stopped())
    assert is_gateway_timeout(ex)
    assert [s.path for s in log.sent] == ["/api/status"]  # a 408 is an answer: no retry
    wait_for(lambda: manager_answers(sb), 10, 0.1, "the manager to answer again")
    assert manager_pid(sb) == pid_before, "the watchdog restarted the manager"


def test_after_a_500_on_the_gateway(http_reset: Sandbox):
    """The gateway closes the connection of a 500 only after logging the traceback, so the
    next request may still go out on it and get no answer (a dead keep-alive connection), or
    find it closed and use a new one: either way a read succeeds, and a write is sent once and
    applied at most once. (``test_after_a_500_the_dead_connection`` makes the dead connection
    happen every time.)"""
    sb = http_reset

    async def scenario():
        api, log = client(sb)
        try:
            with pytest.raises(HTTPServerError) as info:
                await api.whoami()  # no database in single-user mode
            mark = log.mark()
            status = await api.status(reload=True)
            read = (log.paths_since(mark), log.statuses[-1])

            with pytest.raises(HTTPServerError):
                await api.whoami()
            sent_before = api.transport.requests_sent
            mark = log.mark()
            try:
                write: object = await api.item_add(PLAN)
            except HTTPRequestError as ex:
                write = ex
            written = (log.paths_since(mark), api.transport.requests_sent - sent_before)
            return info.value, status, read, write, written
        finally:
            await api.close()

    ex500, status, read, write, written = run(scenario())
    assert str(ex500).startswith("Server error '500 Internal Server Error' for url ")
    assert "\nFor more information check: " in str(ex500)  # httpx's text, as the reference's
    assert ex500.response.status_code == 500
    assert status["manager_state"] == "idle"
    assert read[0] in (["GET /api/status"], ["GET /api/status", "GET /api/status"])
    assert read[1] == 200
    assert written == (["POST /api/queue/item/add"], 1)
    queue = sb.request("queue_get")["items"]
    if isinstance(write, HTTPRequestError):  # the dead connection: never reached RE Manager
        assert str(write) == "HTTP request error: " and queue == []
    else:
        assert write["success"] is True and len(queue) == 1


def test_client_timeout(http_reset: Sandbox):
    sb = http_reset

    async def scenario():
        api, log = client(sb)
        try:
            t0 = time.monotonic()
            with pytest.raises(RequestTimeoutError) as info:
                await api.send_request(method=("GET", "/api/test/server/sleep"),
                                       params={"time": 3}, timeout=0.5)
            elapsed = time.monotonic() - t0
            status = await api.status()
            return info.value, elapsed, status, log
        finally:
            await api.close()

    ex, elapsed, status, log = run(scenario())
    assert str(ex).startswith("Request timeout: ")
    assert ex.request == {"method": ("GET", "/api/test/server/sleep"), "params": {"time": 3}}
    assert 0.45 < elapsed < 2.0
    assert status["manager_state"] == "idle"
    sleep, = [s for s in log.sent if s.path == "/api/test/server/sleep"]
    assert sleep.body == {"time": 3} and sleep.method == "GET"


def test_nothing_listening():
    with socket.socket() as bound:  # bound, not listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]

        async def scenario():
            api = REManagerAPI(http_server_uri=f"http://127.0.0.1:{port}")
            try:
                with pytest.raises(HTTPRequestError) as read:
                    await api.status()
                reads = api.transport.requests_sent
                with pytest.raises(HTTPRequestError) as write:
                    await api.item_add(PLAN)
                return read.value, reads, write.value, api.transport.requests_sent - reads
            finally:
                await api.close()

        read, reads, write, writes = run(scenario())
    assert str(read) == "HTTP request error: All connection attempts failed"
    assert str(write) == "HTTP request error: All connection attempts failed"
    assert (reads, writes) == (2, 1)  # a read is tried twice, a write once


# -- small loopback servers ----------------------------------------------------------------------
NGINX_404 = ("<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 "
             "Not Found</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>")
CSRF_403 = "Expected csrf query parameter or x-csrf header"
STATUS = {"msg": "RE Manager v0.0.25", "manager_state": "idle", "plan_queue_uid": "x"}

#: path -> (status, content type, body)
Routes = dict[str, tuple[int, str, str]]

FRONT_END_ROUTES: Routes = {
    "/api/status": (404, "text/html", NGINX_404),
    "/api/queue/item/add": (403, "text/plain; charset=utf-8", CSRF_403),
    "/api/queue/get": (400, "application/json", json.dumps({"error": "no detail here"})),
    "/api/history/get": (502, "text/html", "<html><body>Bad Gateway</body></html>"),
    "/api/plans/allowed": (301, "text/html", ""),
}


class Handler(http.server.BaseHTTPRequestHandler):
    routes: Routes = {}
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        code, ctype, body = self.routes.get(self.path, (404, "text/plain", "no route"))
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        if 300 <= code < 400:
            self.send_header("Location", "https://example.invalid/api/plans/allowed")
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # e.g. a TLS handshake the client rejected


@contextlib.contextmanager
def serve(routes: Routes, context: ssl.SSLContext | None = None) -> Iterator[int]:
    with serve_with(type("RouteHandler", (Handler,), {"routes": routes}), context) as port:
        yield port


@contextlib.contextmanager
def serve_with(handler: type, context: ssl.SSLContext | None = None) -> Iterator[int]:
    """A threaded HTTP(S) server on a free loopback port, for the duration of the block."""
    server = QuietServer(("127.0.0.1", 0), handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class PoisoningHandler(http.server.BaseHTTPRequestHandler):
    """Answers the first request of a connection; after a 500 it drops the connection at the
    next request without answering (what the gateway's uvicorn does when the request is
    quicker than its traceback logging)."""

    protocol_version = "HTTP/1.1"
    received: list[str] = []

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        self.received.append(f"{self.command} {self.path}")
        if getattr(self, "poisoned", False):
            self.close_connection = True
            return
        if self.path == "/api/auth/whoami":
            code, body = 500, b"Internal Server Error"
            self.poisoned = True
        else:
            code, body = 200, json.dumps({"success": True, "msg": "", **STATUS}).encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


def test_after_a_500_the_dead_connection():
    handler = type("Poisoning", (PoisoningHandler,), {"received": []})

    async def scenario(port: int):
        api = REManagerAPI(http_server_uri=f"http://127.0.0.1:{port}")
        try:
            with pytest.raises(HTTPServerError):
                await api.whoami()
            sent = api.transport.requests_sent
            status = await api.status(reload=True)
            reads = api.transport.requests_sent - sent
            with pytest.raises(HTTPServerError):
                await api.whoami()
            sent = api.transport.requests_sent
            with pytest.raises(HTTPRequestError) as write:
                await api.item_add(PLAN)
            return status, reads, write.value, api.transport.requests_sent - sent
        finally:
            await api.close()

    with serve_with(handler) as port:
        status, reads, write, writes = run(scenario(port))
    assert status["manager_state"] == "idle" and reads == 2
    assert str(write).startswith("HTTP request error: ") and writes == 1
    assert handler.received == [
        "GET /api/auth/whoami", "GET /api/status", "GET /api/status",  # dropped, then retried
        "GET /api/auth/whoami", "POST /api/queue/item/add"]  # dropped, not re-sent


def test_error_bodies_that_are_not_the_gateways_json():
    reference = pytest.importorskip("bluesky_queueserver_api.http.aio")

    async def outcome(call: Callable) -> BaseException:
        try:
            await call()
        except Exception as ex:
            return ex
        raise AssertionError("no exception")

    async def scenario(port: int):
        uri = f"http://127.0.0.1:{port}"
        api = REManagerAPI(http_server_uri=uri)
        ref = reference.REManagerAPI(http_server_uri=uri)
        try:
            ours = [await outcome(api.status), await outcome(lambda: api.item_add(PLAN)),
                    await outcome(lambda: api.send_request(method="queue_get")),
                    await outcome(lambda: api.send_request(method="history_get")),
                    await outcome(lambda: api.send_request(method="plans_allowed"))]
            theirs = [await outcome(ref.status), await outcome(lambda: ref.item_add(PLAN))]
            return ours, theirs
        finally:
            await api.close()
            await ref.close()

    with serve(FRONT_END_ROUTES) as port:
        ours, theirs = run(scenario(port))
    html404, csrf403, nodetail400, html502, redirect = ours
    assert isinstance(html404, HTTPClientError) and html404.response.status_code == 404
    assert "404 Not Found" in str(html404) and "nginx/1.18.0" in str(html404)
    assert isinstance(csrf403, HTTPClientError)
    assert str(csrf403) == f"403: {CSRF_403} http://127.0.0.1:{port}/api/queue/item/add"
    assert isinstance(nodetail400, HTTPClientError) and "no detail here" in str(nodetail400)
    assert isinstance(html502, HTTPServerError) and html502.response.status_code == 502
    assert isinstance(redirect, HTTPClientError)
    assert "redirected to https://example.invalid/api/plans/allowed" in str(redirect)
    for ex in ours:
        assert not isinstance(ex, json.JSONDecodeError), repr(ex)
    # the reference trips over the same bodies (http-protocol.md §1.6)
    assert all(isinstance(ex, json.JSONDecodeError) for ex in theirs), theirs


# -- TLS -----------------------------------------------------------------------------------------
def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (its own CA) and its key: with ``cryptography`` if
    installed, else the ``openssl`` command."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        openssl = shutil.which("openssl")
        if openssl is None:
            pytest.skip("neither the cryptography package nor the openssl command is available "
                        "to make a self-signed certificate")
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
            check=True, capture_output=True, timeout=30)
        return cert, key
    import datetime
    import ipaddress

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(private.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256()))
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return cert, key


def test_https_with_a_private_ca(tmp_path: Path):
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    routes: Routes = {"/api/status": (200, "application/json", json.dumps(STATUS))}

    async def scenario(port: int):
        uri = f"https://127.0.0.1:{port}"
        default = REManagerAPI(http_server_uri=uri)
        trusted = REManagerAPI(http_server_uri=uri, ca_file=str(cert))
        try:
            with pytest.raises(HTTPRequestError) as refused:
                await default.status()
            status = await trusted.status()
            return (refused.value, status, trusted.websocket_uri("/api/status/ws"),
                    trusted.websocket_ssl(), default.websocket_ssl())
        finally:
            await default.close()
            await trusted.close()

    with serve(routes, context) as port:
        refused, status, ws_uri, ws_ssl, ws_ssl_default = run(scenario(port))
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused)
    assert status == STATUS
    assert ws_uri == f"wss://127.0.0.1:{port}/api/status/ws"
    assert ws_ssl.verify_mode == ssl.CERT_REQUIRED and ws_ssl.check_hostname
    assert ws_ssl_default.verify_mode == ssl.CERT_REQUIRED
    plain = REManagerAPI(http_server_uri="http://127.0.0.1:1/prefix")
    assert plain.websocket_uri("/api/status/ws") == "ws://127.0.0.1:1/prefix/api/status/ws"
    assert plain.websocket_ssl() is None


def test_status_websocket_over_tls_with_a_private_ca(tmp_path: Path):
    """The status feed connects to ``wss://`` and verifies against ``ca_file``, sending the
    API key in the handshake."""
    from websockets.asyncio.server import serve as ws_serve

    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    seen: list[tuple[str, str | None]] = []

    async def handler(ws) -> None:
        seen.append((ws.request.path, ws.request.headers.get("Authorization")))
        await ws.send(json.dumps({"time": 1.5, "msg": {"status": STATUS}}))
        await ws.wait_closed()

    async def scenario():
        async with ws_serve(handler, "127.0.0.1", 0, ssl=context) as server:
            port = server.sockets[0].getsockname()[1]
            api = REManagerAPI(http_server_uri=f"https://127.0.0.1:{port}", ca_file=str(cert))
            api.set_authorization_key(api_key="k123")
            try:
                feed = api.info_monitor(topics=(STATUS_TOPIC,))
                feed.start()
                message = await feed.next(timeout=5)
                return message, feed.error
            finally:
                await api.close()

    message, error = run(scenario(), timeout=30)
    assert message is not None, error
    assert (message.topic, message.time, message.msg) == (STATUS_TOPIC, 1.5, {"status": STATUS})
    assert seen == [("/api/status/ws", "ApiKey k123")]


def test_gateway_timeout_helpers_on_other_errors():
    assert not is_gateway_timeout(RuntimeError("408"))
    assert not is_gateway_timeout(HTTPRequestError("HTTP request error: "))
