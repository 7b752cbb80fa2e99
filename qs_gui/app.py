"""Entry point: options, QApplication on a qasync loop, session and window, orderly shutdown.

Start-up order: the Qt platform is checked (exit 2 with the reason if it cannot start), then the
QApplication is created, and only then is a demo server started, so a Qt failure never strands
one. Shutdown order (qasync): closing the window stops the loop; then the session's tasks are
cancelled and the client's sockets closed while the loop can still run them; then the demo
server (if any) is stopped. Ctrl+C, SIGTERM and an exception go through the same path; a
``kill -9`` or an ``abort()`` is covered by the sandbox's lifeline guardian.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
import traceback
from typing import Any

from . import __version__
from .heap import pin_mmap_threshold

logger = logging.getLogger("qs_gui")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="qs-gui",
        description="Desktop client for the Bluesky Queue Server (RE Manager): queue, history, "
                    "item editor and Execute now.",
        epilog="Environment: QSERVER_ZMQ_CONTROL_ADDRESS, QSERVER_ZMQ_INFO_ADDRESS, "
               "QSERVER_ZMQ_PUBLIC_KEY are used when the options are not given; over HTTP "
               "QSERVER_HTTP_SERVER_URI, QSERVER_HTTP_SERVER_API_KEY and "
               "QSERVER_HTTP_SERVER_API_KEYFILE. Settings (profiles, layout) are kept with "
               "QSettings; lock keys, API keys and passwords never are.")
    p.add_argument("--version", action="version", version=f"qs-gui {__version__}")
    p.add_argument("--control-addr", help="0MQ control address (default tcp://localhost:60615)")
    p.add_argument("--info-addr", help="0MQ info address for status/console pushes "
                                       "(default tcp://localhost:60625)")
    p.add_argument("--public-key", help="CURVE public key of the server (z85, 40 characters)")
    p.add_argument("--user", default=None, help="user name sent with items (default: login name)")
    p.add_argument("--user-group", default=None,
                   help="user group (default: the profile's, else primary)")
    p.add_argument("--profile", metavar="NAME",
                   help="connect with a saved connection profile (Connection ▸ Profiles…); "
                        "options given here override its values")
    p.add_argument("--http", nargs="?", const="", metavar="URI",
                   help="connect through bluesky-httpserver at URI (without URI: "
                        "QSERVER_HTTP_SERVER_URI, else http://localhost:60610)")
    p.add_argument("--api-key-file", metavar="PATH",
                   help="with --http: read the API key from PATH (a key is never taken on the "
                        "command line, where ps shows it; or set QSERVER_HTTP_SERVER_API_KEY)")
    p.add_argument("--login", metavar="USER",
                   help="with --http: log in as USER (the password is asked in a dialog)")
    p.add_argument("--provider", metavar="NAME",
                   help="with --login: the gateway's authentication provider (e.g. ldap)")
    p.add_argument("--ca-file", metavar="PATH",
                   help="with an https:// URI: trust only this CA bundle (default: the system's)")
    p.add_argument("--timeout", type=float, default=None,
                   help="request timeout in seconds (default 2 over 0MQ, 5 over HTTP)")
    p.add_argument("--overview", nargs="*", metavar="PROFILE",
                   help="control-room overview: a read-only tile per beamline (the saved "
                        "profiles named, or all of them); Enter or a double-click on a tile "
                        "opens its full window")
    p.add_argument("--monitor", action="store_true",
                   help="read-only monitor mode: no request that changes the server is sent")
    p.add_argument("--no-push", action="store_true",
                   help="do not subscribe to the info socket; poll the status instead")
    p.add_argument("--docs-addr", metavar="ADDR",
                   help="bluesky 0MQ document proxy OUT address, for live plots and progress")
    p.add_argument("--docs-prefix", default="", help="document stream topic prefix (default none)")
    p.add_argument("--docs-allow-pickle", action="store_true",
                   help="UNSAFE: unpickle document payloads (only for trusted streams)")
    p.add_argument("--demo", action="store_true",
                   help="start a local demo RE Manager (simulated profile) and connect to it")
    p.add_argument("--demo-keep-closed", action="store_true",
                   help="with --demo: do not open the worker environment at start")
    p.add_argument("--demo-users", action="store_true",
                   help="with --demo --http: a gateway with logins (admin, operator, observer)")
    p.add_argument("--demo-empty", action="store_true",
                   help="with --demo: start with an empty queue and history (no demo items)")
    p.add_argument("--screenshot", metavar="FILE",
                   help="save a PNG of the window just before exiting (with --exit-after)")
    p.add_argument("--exit-after", type=float, metavar="SECONDS",
                   help="close the window after this many seconds (smoke tests, docs)")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug messages to stderr")
    return p


def _start_demo(http: str | None = None) -> Any:
    from .sandbox import Sandbox, SandboxError, guardian_pid

    sys.stderr.write("qs-gui: starting the demo RE Manager"
                     + (" and bluesky-httpserver" if http else "") + "…\n")
    try:
        sandbox = Sandbox(publish_console=True, documents=True, http=http).start()
    except SandboxError as ex:
        sys.stderr.write(f"qs-gui: the demo RE Manager did not start:\n{ex}\n")
        raise SystemExit(2) from None
    # Where it is and what runs, for whoever needs to check on it (tests look for every pid).
    sys.stderr.write(f"qs-gui: demo RE Manager at {sandbox.control_addr} "
                     f"(marker {sandbox.redis_prefix}, processes "
                     f"{' '.join(map(str, sandbox.processes()))}, guardian {guardian_pid()})\n")
    return sandbox


def _seed_demo(sandbox: Any, keep_closed: bool) -> None:
    """Blocking (runs in a worker thread): the demo's first queue and history items."""
    from .sandbox.demo import seed_demo

    seed_demo(sandbox, open_environment=not keep_closed)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.demo and args.profile:
        parser.error("--demo and --profile cannot be combined")
    if args.login and args.api_key_file:
        parser.error("--login and --api-key-file cannot be combined")
    if args.demo_users and not (args.demo and args.http is not None):
        parser.error("--demo-users needs --demo --http")
    if args.overview is not None and (args.profile or args.http is not None or args.login):
        parser.error("--overview takes profile names; --profile, --http and --login are for "
                     "one window")
    if args.overview and args.demo:
        parser.error("--demo --overview shows the demo server only (no profile names)")
    from .qt_platform import platform_problem

    problem = platform_problem()
    if problem:  # before anything is started: Qt would abort() with a cryptic message
        sys.stderr.write(f"qs-gui: cannot open a window. {problem}\n")
        return 2
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    os.environ.setdefault("QT_AUTO_SCREEN_SCALE_FACTOR", "1")
    pin_mmap_threshold()  # big replies' buffers go back to the system when freed

    from PyQt5.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0]])
    demo_http = None if args.http is None else ("multi" if args.demo_users else "single")
    sandbox = _start_demo(demo_http) if args.demo else None
    try:
        return _run(args, app, sandbox)
    finally:
        if sandbox:
            sandbox.stop()


def _run(args: argparse.Namespace, app: Any, sandbox: Any) -> int:
    """Everything after the QApplication exists and the demo server (if any) runs."""
    import qasync
    from PyQt5.QtCore import QSettings

    from .client.documents import DocumentPump, DocumentSubscriber
    from .core.clients import build_client
    from .core.profiles import AppSettings, resolve_connection
    from .core.session import Session
    from .ui.profiles_dialog import QSettingsStore, choose_profile
    from .ui.resources import apply_app_resources

    control = sandbox.control_addr if sandbox else args.control_addr
    info = sandbox.info_addr if sandbox else args.info_addr
    app.setApplicationName("qs-gui")
    app.setOrganizationName("qs-gui")
    app.setApplicationVersion(__version__)
    app.setQuitOnLastWindowClosed(False)
    apply_app_resources(app)
    qsettings = QSettings()
    app_settings = AppSettings(QSettingsStore(qsettings))
    app_settings.purge_secrets()
    if args.overview is not None:
        return _run_overview(args, app, sandbox, app_settings, qsettings)
    profile = None
    if args.profile:
        profile = app_settings.profile(args.profile)
        if profile is None:
            names = ", ".join(app_settings.profile_names()) or "none saved"
            sys.stderr.write(f"qs-gui: no profile named {args.profile!r} ({names})\n")
            return 2
    elif (sandbox is None and not control and not os.environ.get("QSERVER_ZMQ_CONTROL_ADDRESS")
          and args.http is None and app_settings.profile_names()):
        profile = choose_profile(app_settings)
        if profile is None:
            return 0
    conn = resolve_connection(profile, control_addr=control, info_addr=info,
                              public_key=args.public_key, user=args.user,
                              user_group=args.user_group, monitor=args.monitor,
                              http_uri=(sandbox.http_uri if sandbox and sandbox.http_uri
                                        else args.http) or None,
                              http_login=args.login, http_provider=args.provider,
                              http_api_key_file=args.api_key_file)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)

    try:
        built = build_client(conn, timeout=args.timeout, ca_file=args.ca_file,
                             http=args.http is not None, **_demo_credentials(sandbox, conn))
    except ValueError as ex:
        sys.stderr.write(f"qs-gui: {ex}\n")
        return 2
    api, login = built.api, built.login
    session = Session(api, use_monitor=not args.no_push)
    title = "qs-gui demo" if sandbox else "qs-gui"
    if conn["monitor"]:  # the read-only wall display (its client refuses mutating requests)
        from .ui.monitor_window import MonitorWindow

        window = MonitorWindow(session, settings=qsettings, app_settings=app_settings,
                               profile=profile, title=title)
        add_message = window.show_message
    else:
        from .ui.main_window import MainWindow

        window = MainWindow(session, settings=qsettings, app_settings=app_settings,
                            profile=profile, title=title)
        add_message = window.messages.add
    rooms = Rooms(loop, app_settings, qsettings, title=title, timeout=args.timeout,
                  profiles=lambda: _overview_profiles(app_settings, sandbox))
    if hasattr(window, "overview_requested"):
        window.overview_requested.connect(
            lambda: rooms.open_overview(home=(profile.name if profile else "demo", window),
                                        report=add_message))
    if login is not None:
        window.configure_login(login.user, list(login.providers))
    if sandbox is not None and getattr(sandbox, "http_api_key", None):
        window.demo_note = ("Demo gateway, single-user API key (in memory only): "
                            f"{sandbox.http_api_key}")
    docs_addr = sandbox.documents_addr if sandbox else args.docs_addr
    subscriber = pump = None
    if docs_addr:
        subscriber = DocumentSubscriber(docs_addr, prefix=args.docs_prefix.encode(),
                                        allow_pickle=args.docs_allow_pickle)
        if conn["monitor"]:  # progress only: the monitor builds no plot
            pump = DocumentPump(subscriber, window.feed_documents)
        else:
            window.plot_dock.attach_subscriber(subscriber)
            pump = DocumentPump(subscriber, window.plot_dock.feed_many)

    process = _ProcessLifecycle(loop, window, add_message, args)
    window.destroyed.connect(process.request_quit)

    async def startup() -> None:
        if login is not None:
            window.open_login(login.intro)
        if pump is not None:
            pump.start()
        await session.start()
        if sandbox:  # seeded by the sandbox's own client: a monitor still sends nothing
            await _prepare_demo(add_message, sandbox, args)

    try:
        window.show()
        with loop:
            starting = loop.create_task(startup())
            loop.run_forever()
            if not starting.done():  # closed while still starting (e.g. the demo being seeded)
                starting.cancel()
                loop.run_until_complete(asyncio.gather(starting, return_exceptions=True))
            loop.run_until_complete(rooms.stop())
            loop.run_until_complete(session.stop())
            if pump is not None:
                loop.run_until_complete(pump.stop())
                subscriber.close()
    finally:
        process.restore()
        if not loop.is_closed():
            loop.close()
    return 0


class _ProcessLifecycle:
    """What the process needs around its first window, whichever room it is: unhandled errors
    shown in the window (PyQt5 aborts on an exception in a slot), quit when that window closes
    or on SIGINT/SIGTERM (a heartbeat timer lets Python run signal handlers while Qt idles),
    ``--exit-after`` (with ``--screenshot``); :meth:`restore` undoes it all."""

    def __init__(self, loop: asyncio.AbstractEventLoop, window: Any,
                 report: Any, args: argparse.Namespace) -> None:
        from PyQt5.QtCore import QTimer

        self._loop = loop
        self._report = report
        self._quit_requested = False
        sys.excepthook = self._report_exception
        window.closed.connect(self.request_quit)
        signal.signal(signal.SIGINT, self.request_quit)
        signal.signal(signal.SIGTERM, self.request_quit)
        self._heartbeat = QTimer()
        self._heartbeat.timeout.connect(lambda: None)
        self._heartbeat.start(250)
        if args.exit_after:
            def finish() -> None:
                if args.screenshot:
                    window.grab().save(args.screenshot)
                window.close()

            QTimer.singleShot(int(args.exit_after * 1000), finish)

    def _report_exception(self, exc_type: Any, exc: Any, tb: Any) -> None:
        logger.error("Unhandled exception", exc_info=(exc_type, exc, tb))
        text = "".join(traceback.format_exception_only(exc_type, exc)).strip()
        self._report("error", f"Internal error: {text}")

    def request_quit(self, *_args: Any) -> None:
        if not self._quit_requested and not self._loop.is_closed():
            self._quit_requested = True
            self._loop.call_soon_threadsafe(self._loop.stop)

    def restore(self) -> None:
        """Whatever happened, nothing may call into the closed loop afterwards: the window is
        destroyed at interpreter exit, and a late quit request there crashed the process."""
        self._quit_requested = True
        self._heartbeat.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        sys.excepthook = sys.__excepthook__


def _demo_credentials(sandbox: Any, conn: dict) -> dict[str, Any]:
    """The demo gateway's credentials for :func:`~qs_gui.core.clients.build_client`: its users
    (log in as operator unless --login says otherwise; the passwords are shown in the dialog's
    intro, in memory only) or its single-user API key. Nothing without a demo gateway."""
    from .core.clients import LoginNeeded

    if sandbox is None:
        return {}
    if getattr(sandbox, "http_users", None):
        provider = conn["http_provider"] or sandbox.http_provider
        intro = "Demo users (passwords in memory only): " + ", ".join(
            f"{name} / {password}" for name, password in sandbox.http_users.items())
        return {"login": LoginNeeded(conn["http_login"] or "operator",
                                     (provider,) if provider else (), intro)}
    if getattr(sandbox, "http_api_key", None):
        return {"api_key": sandbox.http_api_key}
    return {}


async def _prepare_demo(add_message: Any, sandbox: Any, args: argparse.Namespace) -> None:
    """Open the demo's environment and seed its items off the GUI thread; say so in Messages."""
    if args.demo_empty:
        if args.demo_keep_closed:
            return
        what, job = "opening the worker environment", lambda: sandbox.environment_open()
    else:
        what, job = "adding demo items to the queue and history", lambda: _seed_demo(
            sandbox, args.demo_keep_closed)
    add_message("info", f"Demo: {what}…")
    try:
        await asyncio.get_running_loop().run_in_executor(None, job)
    except Exception as ex:  # SandboxError or a lost reply: the operator must see it
        add_message("error", f"Demo: {what} failed: {ex}")
    else:
        add_message("info", f"Demo: done {what}.")


def _demo_profile(sandbox: Any) -> Any:
    from .core.profiles import Profile

    return Profile("demo", control_addr=sandbox.control_addr, info_addr=sandbox.info_addr)


def _overview_profiles(app_settings: Any, sandbox: Any) -> list[Any]:
    """What View ▸ Overview shows: the demo's server, else every saved profile."""
    if sandbox is not None:
        return [_demo_profile(sandbox)]
    return app_settings.profiles()


class Rooms:
    """The overview and the full windows opened from it, all on the one qasync loop.

    Each full window has its own :class:`~qs_gui.core.session.Session` (not the tile's
    status-only one), built by ``core/clients`` as the main window's is (over HTTP with a
    login, the window asks for its own password); closing it stops that session and leaves
    the overview running; asking again for an open one raises it. :meth:`stop` closes every
    window and waits for every session to stop, so nothing outlives the loop.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, app_settings: Any, qsettings: Any, *,
                 title: str, timeout: float | None,
                 profiles: Any = list) -> None:  # fmt: skip
        self.loop = loop
        self.app_settings = app_settings
        self.qsettings = qsettings
        self.title = title
        self.timeout = timeout
        self.profiles = profiles  #: () -> the profiles View ▸ Overview shows
        self.full: dict[str, Any] = {}  #: profile name -> its open full window
        self.home: tuple[str, Any] | None = None  #: the window the app started with
        self.overview: Any = None
        self.overview_window: Any = None
        self._tasks: set[asyncio.Task] = set()

    def _spawn(self, coro: Any) -> None:
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    def _raise(window: Any) -> None:
        window.showNormal() if window.isMinimized() else window.show()
        window.raise_()
        window.activateWindow()

    def open_overview(self, profiles: list[Any] | None = None, *,
                      home: tuple[str, Any] | None = None,
                      report: Any = None) -> Any:  # fmt: skip
        """Open the overview (or raise the open one); None when there is nothing to show."""
        from .core.clients import tile_session
        from .core.overview import Overview
        from .ui.overview_window import OverviewWindow

        if home is not None:
            self.home = home
        if self.overview_window is not None:
            self._raise(self.overview_window)
            return self.overview_window
        profiles = self.profiles() if profiles is None else profiles
        if not profiles:
            if report is not None:
                report("warning", "The overview shows saved profiles, and none is saved "
                                  "(Connection ▸ Profiles…).")
            return None
        overview = Overview(tile_session)  # its own timeouts (a tile is offline within 2 s)
        for profile in profiles:
            try:
                overview.add(profile)
            except ValueError as ex:  # e.g. an unreadable API key file: that tile only
                overview.log.add(time.time(), profile.name, f"Not shown: {ex}", "error")
                if report is not None:
                    report("error", f"Overview: {profile.name} is not shown: {ex}")
        window = OverviewWindow(overview, open_full=self.open_full,
                                app_settings=self.app_settings, title=self.title)
        window.closed.connect(self._overview_closed)
        self.overview, self.overview_window = overview, window
        window.show()
        self._spawn(overview.start())
        return window

    def _overview_closed(self) -> None:
        overview, self.overview, self.overview_window = self.overview, None, None
        if overview is not None:
            self._spawn(overview.stop())

    def open_full(self, name: str) -> Any:
        """The full window for the overview's tile ``name``: raised when open, else built with
        its own session (a monitor window for a monitor profile)."""
        window = self.full.get(name)
        if window is None and self.home is not None and self.home[0] == name:
            window = self.home[1]
        if window is not None:
            self._raise(window)
            return window
        if self.overview is None or name not in self.overview.tiles:
            return None
        from .core.clients import build_session

        profile = self.overview.tile(name).profile
        try:
            session, login = build_session(profile, timeout=self.timeout)
        except ValueError as ex:  # an unreadable API key file: said in the overview's log
            self.overview.log.add(time.time(), name, f"Cannot open the full window: {ex}",
                                  "error")
            return None
        if profile.monitor:
            from .ui.monitor_window import MonitorWindow

            window = MonitorWindow(session, settings=self.qsettings,
                                   app_settings=self.app_settings, profile=profile,
                                   title=self.title)
        else:
            from .ui.main_window import MainWindow

            window = MainWindow(session, settings=self.qsettings,
                                app_settings=self.app_settings, profile=profile,
                                title=self.title)
            window.overview_requested.connect(lambda: self.open_overview())
        self.full[name] = window

        def closed() -> None:
            if self.full.get(name) is window:
                del self.full[name]
            self._spawn(session.stop())

        window.closed.connect(closed)
        if login is not None:
            window.configure_login(login.user, list(login.providers))
        window.show()
        self._spawn(session.start())
        if login is not None:
            window.open_login(login.intro)
        return window

    async def stop(self) -> None:
        """Close every window this opened and wait until every session has stopped."""
        for window in list(self.full.values()):
            window.close()
        if self.overview_window is not None:
            self.overview_window.close()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _run_overview(args: argparse.Namespace, app: Any, sandbox: Any, app_settings: Any,
                  qsettings: Any) -> int:  # fmt: skip
    """``--overview [PROFILE …]``: the overview window is the application's main window."""
    import qasync

    if sandbox is not None:
        profiles = [_demo_profile(sandbox)]
    else:
        saved = app_settings.profile_names()
        listed = ", ".join(saved) or "none saved"
        if args.overview:
            unknown = [n for n in args.overview if app_settings.profile(n) is None]
            if unknown:
                sys.stderr.write(f"qs-gui: no profile named "
                                 f"{', '.join(map(repr, unknown))} (saved: {listed})\n")
                return 2
            profiles = list({p.name: p for p in map(app_settings.profile, args.overview)}
                            .values())
        else:
            profiles = app_settings.profiles()
        if not profiles:
            sys.stderr.write("qs-gui: --overview shows saved profiles, and none is saved "
                             "(create them in Connection ▸ Profiles…)\n")
            return 2
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    title = "qs-gui demo" if sandbox else "qs-gui"
    rooms = Rooms(loop, app_settings, qsettings, title=title, timeout=args.timeout)
    window = rooms.open_overview(profiles)

    def report(level: str, text: str) -> None:
        if rooms.overview is not None:
            rooms.overview.log.add(time.time(), "demo", text, level)

    process = _ProcessLifecycle(loop, window, report, args)
    try:
        with loop:
            starting = None
            if sandbox is not None:
                starting = loop.create_task(_prepare_demo(report, sandbox, args))
            loop.run_forever()
            if starting is not None and not starting.done():
                starting.cancel()
                loop.run_until_complete(asyncio.gather(starting, return_exceptions=True))
            loop.run_until_complete(rooms.stop())  # every window closed, every session stopped
    finally:
        process.restore()
        if not loop.is_closed():
            loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
