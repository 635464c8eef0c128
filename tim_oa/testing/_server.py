"""Serving an emulator on a loopback socket with uvicorn (an optional dependency)."""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Final

from .._options import is_loopback_host as is_loopback
from ._asgi import DroppedConnection
from ._emulator import Emulator

_STARTUP_TIMEOUT: Final = 10.0
_SHUTDOWN_TIMEOUT: Final = 5.0
_filter_lock = threading.Lock()


class _HideDeliberateDrops(logging.Filter):
    """Hides the error uvicorn logs for each connection the emulator drops on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DroppedConnection)


def _install_log_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    with _filter_lock:
        if not any(isinstance(f, _HideDeliberateDrops) for f in logger.filters):
            logger.addFilter(_HideDeliberateDrops())


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit this. Without it each response's second segment waits
        # for the client's delayed ACK: ~42 ms per request on loopback instead of ~1 ms.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _base_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextlib.contextmanager
def serve(
    emulator: Emulator,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    allow_remote: bool = False,
    log_level: str = "warning",
    access_log: bool = False,
) -> Iterator[str]:
    """Serve ``emulator`` with uvicorn in a background thread; yield its base URL.

    The socket is bound before the server starts (``port=0`` picks a free port), and the context
    is entered only once the server accepts connections. On exit the server stops, waiting at most
    a few seconds for open requests. Works from synchronous and async code alike, since the server
    runs its own event loop in its own thread.

    Args:
        emulator: what to serve.
        host: the interface; only loopback unless ``allow_remote`` (the emulator accepts anyone
            holding the well-known test key, so never expose it by accident).
        port: the TCP port; 0 picks a free one.
        allow_remote: permit a non-loopback ``host``.
        log_level: uvicorn's log level. uvicorn's logging setup is left alone (its loggers
            propagate to the root logger), so serving inside a test run does not reconfigure it.
        access_log: log each request line. Off by default: the request line holds the UserSig.

    Raises:
        ValueError: ``host`` is not loopback and ``allow_remote`` is false.
        RuntimeError: uvicorn is not installed (install ``tim-oa[emulator]``), or the server did
            not start in time.
    """
    if not allow_remote and not is_loopback(host):
        raise ValueError(f"refusing to serve on non-loopback host {host!r}; pass allow_remote=True")

    with serve_asgi(emulator.app, host, port, log_level=log_level, access_log=access_log) as url:
        yield url


@contextlib.contextmanager
def serve_asgi(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    log_level: str = "warning",
    access_log: bool = False,
) -> Iterator[str]:
    """Serve any ASGI app with uvicorn in a background thread; yield its base URL.

    What ``serve`` runs, without its loopback check (the caller's job): the socket is bound
    first, the context is entered once the server accepts connections, and on exit the server
    stops. The tests use it to serve a webhook receiver beside an emulator.
    """
    try:
        import uvicorn
    except ImportError as exc:
        raise RuntimeError(
            "serving the emulator needs uvicorn: pip install 'tim-oa[emulator]'"
        ) from exc

    _install_log_filter()
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_config=None,
        log_level=log_level,
        access_log=access_log,
        lifespan="on",
        timeout_graceful_shutdown=int(_SHUTDOWN_TIMEOUT),
    )
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"tim-oa-emulator:{bound_port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the emulator server did not start") from (
                    failure[0] if failure else None
                )
            time.sleep(0.005)
        yield _base_url(host, bound_port)
    finally:
        server.should_exit = True
        thread.join(_SHUTDOWN_TIMEOUT)
        if thread.is_alive():
            server.force_exit = True
            thread.join(_SHUTDOWN_TIMEOUT)
        sock.close()


def serve_forever(
    emulator: Emulator,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    on_ready: Callable[[str], None] | None = None,
    **options: Any,
) -> None:
    """Serve until Ctrl-C (or SIGTERM, when called from the main thread), then stop cleanly.

    ``on_ready`` receives the base URL once the server accepts connections; by default the URL,
    the app id and the admin identifier are printed (never the key). ``options`` go to ``serve``.
    """
    stop = threading.Event()
    restore: Callable[[], None] | None = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())

        def restore() -> None:
            signal.signal(signal.SIGTERM, previous)

    try:
        with serve(emulator, host, port, **options) as base_url:
            if on_ready is None:
                print(f"tim_oa emulator listening on {base_url} (Ctrl-C to stop)", flush=True)
                print(f"sdkappid={emulator.sdkappid} admin={emulator.admins[0]}", flush=True)
            else:
                on_ready(base_url)
            with contextlib.suppress(KeyboardInterrupt):
                while not stop.wait(0.5):
                    pass
    finally:
        if restore is not None:
            restore()
