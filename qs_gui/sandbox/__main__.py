"""``python -m qs_gui.sandbox``: run a local RE Manager (and, with ``--http``, bluesky-httpserver
in front of it) until Ctrl+C or SIGTERM. Secrets are printed only with ``--show-secrets``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time

from . import DOCUMENT_SERIALIZERS, HTTP_MODES, Sandbox, SandboxError
from .demo import seed_demo


def main(argv: list[str] | None = None) -> int:
    """Run a sandbox until Ctrl+C or SIGTERM, printing the addresses to connect to."""
    ap = argparse.ArgumentParser(
        "python -m qs_gui.sandbox",
        description="Run a private, loopback-only RE Manager (simulated profile) for qs-gui.")
    ap.add_argument("--open-env", action="store_true", help="open the worker environment")
    ap.add_argument("--private-key", help="z85 CURVE server private key (control socket)")
    ap.add_argument("--no-console", action="store_true", help="do not publish console/status")
    ap.add_argument("--documents", action="store_true",
                    help="also run a bluesky 0MQ document proxy fed by the worker's RunEngine")
    ap.add_argument("--serializer", choices=("auto", *DOCUMENT_SERIALIZERS), default="auto",
                    help="document payload format with --documents (default: auto)")
    ap.add_argument("--http", choices=HTTP_MODES,
                    help="also run bluesky-httpserver in front of the manager: one random API key "
                         "(single) or password logins for admin/operator/observer (multi)")
    ap.add_argument("--show-secrets", action="store_true",
                    help="with --http, print the API key or the passwords (to stdout only; "
                         "they are never written to a file)")
    ap.add_argument("--demo-items", action="store_true",
                    help="seed the queue and history with a few demo items (opens the environment)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip

    def interrupt(signum: int, frame: object) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # don't interrupt the stop procedure
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    sb = Sandbox(open_environment=args.open_env, private_key=args.private_key,
                 publish_console=not args.no_console, documents=args.documents,
                 serializer=args.serializer, http=args.http)  # fmt: skip
    try:
        sb.start()
        if args.demo_items:
            seed_demo(sb)
        print(f"control_addr: {sb.control_addr}\ninfo_addr: {sb.info_addr}")
        if sb.public_key:
            print(f"public_key: {sb.public_key}")
        if sb.documents_addr:
            print(f"documents_addr: {sb.documents_addr}\ndocuments_serializer: {sb.serializer}")
        if sb.http_uri:
            print(f"http_uri: {sb.http_uri}\nhttp_pid: {sb.http_pid}")
            if sb.http_provider:
                print(f"http_provider: {sb.http_provider}\nhttp_users: {' '.join(sb.http_users)}")
            if args.show_secrets and sb.http_api_key:
                print(f"http_api_key: {sb.http_api_key}")
            elif args.show_secrets:
                for user, password in sb.http_users.items():
                    print(f"http_password_{user}: {password}")
        print(f"marker: {sb.redis_prefix}\npid: {sb.pid}\nPress Ctrl+C to stop.", flush=True)
        while sb.is_running() and (not sb.http or sb.gateway_running()):
            time.sleep(0.2)
        if not sb.is_running():
            print(f"RE Manager exited unexpectedly:\n{sb.log_tail()}", file=sys.stderr)
        else:
            print(f"HTTP gateway exited unexpectedly:\n{sb.http_logtail()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    except SandboxError as ex:
        print(ex, file=sys.stderr)
        return 1
    finally:
        sb.stop()
        print("stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
