"""The asyncio Protocol that runs HTTP/1.1 over one connection, whichever parser feeds it.

Keep-alive, pipelining, flow control, timeouts and limits live here, once. The parser
adapter only turns bytes into ``asgibench.protocols.events``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import sys
import types
from collections import deque
from contextvars import Context, copy_context
from typing import Any
from urllib.parse import unquote

from asgibench.protocols.events import BodyData, MessageEnd, ProtocolError, RequestHead
from asgibench.server import http11, websocket
from asgibench.server.cycle import WRITE_BATCH_LIMIT, RequestCycle
from asgibench.server.state import ServerState, error_log

# Request-body bytes buffered ahead of the app before we stop reading the socket.
READ_HIGH_WATER = 256 * 1024
# Pipelined requests queued behind the running one before we stop reading.
PIPELINE_HIGH_WATER = 64
_ASGI = {"version": "3.0", "spec_version": "2.3"}
_VERSIONS = frozenset(("1.1", "1.0"))
# What the connection's one timer is waiting for.
_HEAD, _IDLE, _BODY = 0, 1, 2
# Fed to the parser after a WebSocket handshake to find bytes it holds (_check_early_data).
_PROBE = b"GET /asgibench-probe HTTP/1.1\r\nHost: probe\r\n\r\n"


class HTTPConnection:
    # An asyncio.Protocol by its methods, not by subclassing: the compiled build makes it
    # an extension type, which cannot subclass a Python class (docs/server.md).
    # After a WebSocket handshake: the cycle every further byte goes to (``parsing`` is
    # then False). A class attribute, set on the instance only when a connection upgrades:
    # CPython 3.11 shares an instance dict's keys among instances for up to 30 attributes,
    # and a 30th in __init__ already makes every attribute access on the hot path slower
    # (2.7% more instructions per request, measured with bench cost). In the compiled
    # build, where the others are C fields, it lives in the instance's __dict__
    # (connection.pxd).
    websocket = None  # websocket.WebSocketCycle | None

    def __init__(self, state: ServerState, loop: asyncio.AbstractEventLoop) -> None:
        self.state = state
        self.loop = loop
        self.parser = state.parser_class(state.limit_request_head)
        self.transport: asyncio.Transport | None = None
        self.client: tuple[str, int] | None = None
        self.server: tuple[str, int] | None = None
        self.scheme = "http"
        self.trusted_proxy = False
        self.cycle: RequestCycle | None = None  # the one whose response is being sent
        self.receiving: RequestCycle | None = None  # the one whose body is arriving
        self.pending: deque[RequestCycle | ProtocolError] = deque()
        # One task runs this connection's requests in order while any are queued, so a
        # pipelined burst costs one task and one write, not one of each per request.
        self.worker: asyncio.Task[None] | None = None
        # The request whose app the worker is running. Once its response is complete the
        # app may go on (background tasks); the next request then gets a new worker and
        # the old one, detached, ends with its app. ``generation`` tells them apart.
        self.running: RequestCycle | None = None
        self.generation = 0
        self.out: list[bytes] = []
        self.out_size = 0
        # True only while the worker runs app code without waiting: its writes are batched
        # and flushed when it waits or finishes. Any other writer (a task the app started,
        # a timer) is not part of a batch, so its bytes go out at once.
        self.batching = False
        # The worker waits for the client to read before it starts the next request.
        self.waiting_to_write = False
        self.parsing = True  # False once no further byte can start a request
        self.closing = False  # close after the current response (shutdown)
        self.eof = False
        self.buffered = 0
        self.reading_paused = False
        self.writing_paused = False
        self.drain_waiters: list[asyncio.Future[None]] = []
        # One lazily re-armed timer: requests only move ``deadline``, which is cheaper
        # than a call_later()/cancel() pair per request. None: no timeout is running.
        self.timer: asyncio.TimerHandle | None = None
        self.deadline: float | None = None
        self.timer_when = 0.0
        self.timer_kind = _HEAD  # what the deadline is for: _HEAD, _IDLE or _BODY

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        state = self.state
        state.connections.add(self)
        peer = transport.get_extra_info("peername")
        local = transport.get_extra_info("sockname")
        if isinstance(peer, (tuple, list)) and len(peer) >= 2:
            self.client = (str(peer[0]), int(peer[1]))
        if isinstance(local, (tuple, list)) and len(local) >= 2:
            self.server = (str(local[0]), int(local[1]))
        elif isinstance(local, str):
            self.server = (local, None)  # type: ignore[assignment]
        if state.config.proxy_headers:
            self.trusted_proxy = _is_trusted(state.config.trusted_proxies, self.client)
        # The head timeout runs from connect: a client that never sends is dropped too.
        self._start_timer(state.timeout_request_head, _HEAD)

    def connection_lost(self, exc: Exception | None) -> None:
        self.state.connections.discard(self)
        self.deadline = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.parsing = False
        for cycle in self._cycles():
            cycle.disconnect()
        self.pending.clear()
        self._release_drain_waiters()

    def eof_received(self) -> bool:
        self.eof = True
        self.parsing = False
        for cycle in self._cycles():
            cycle.peer_closed()
        # Keep the write side open so a half-closed client still gets its responses.
        return not self.is_idle()

    def pause_writing(self) -> None:
        # The client is not reading what is already written: read no more requests from it
        # either, or a pipelining client that never reads makes us buffer without end.
        self.writing_paused = True
        if not self.reading_paused:
            self._pause_reading()

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._release_drain_waiters()
        if self.reading_paused:
            self._maybe_resume_reading()

    def _release_drain_waiters(self) -> None:
        waiters = self.drain_waiters
        if waiters:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
            waiters.clear()

    def data_received(self, data: bytes) -> None:
        if not self.parsing:
            if self.websocket is not None:
                self.websocket.data_received(data)
            return
        if self.deadline is not None and self.timer_kind != _HEAD:
            # Keep-alive idleness ends, or the body moves on; set again below if needed.
            self.deadline = None
        for event in self.parser.feed(data):
            kind = type(event)
            if kind is BodyData:
                receiving = self.receiving
                if receiving is not None:
                    receiving.feed_body(event.data)
                    self.buffered += len(event.data)
            elif kind is RequestHead:
                self._on_head(event)
            elif kind is MessageEnd:
                receiving = self.receiving
                if receiving is not None:
                    receiving.end_body()
                    if not receiving.keep_alive:
                        self.parsing = False
                    self.receiving = None
            else:
                self._on_protocol_error(event)
            if not self.parsing:
                break
        if self.deadline is None and self.parsing:
            if self.receiving is not None:
                # A body is under way: it must keep arriving (--timeout-request-body).
                self._start_body_timer()
            elif self.cycle is None and not self.pending:  # is_idle(), inlined: hot path
                # Part of a head arrived: it must complete within the head timeout.
                self._start_timer(self.state.timeout_request_head, _HEAD)
        elif self.websocket is not None and self.websocket.head is not None:
            self._check_early_data()
        if not self.reading_paused and (
            self.buffered > READ_HIGH_WATER or len(self.pending) > PIPELINE_HIGH_WATER
        ):
            self._pause_reading()
        if self.pending:
            if self.worker is None:
                # Started once every request of this read is queued, so a pipelined burst
                # is answered by one task in one write. (_start_worker() inlined: hot path.)
                task = _start_task(self._work(self.generation), self.loop)
                if not task.done():  # else it answered everything eagerly (3.12+)
                    self.worker = task
                    self.state.tasks.add(task)
            elif self.cycle is None and self.running is not None:
                # The running app's response is complete but the app goes on (FastAPI's
                # BackgroundTasks): the new request does not wait for it.
                self._detach_worker()
                self._start_worker()

    def _detach_worker(self) -> None:
        worker = self.worker
        self.generation += 1
        self.running = None
        self.worker = None
        worker.add_done_callback(self.state.tasks.discard)  # shutdown still waits for it

    def _start_worker(self) -> None:
        task = _start_task(self._work(self.generation), self.loop)
        if not task.done():  # else it answered everything eagerly (3.12+)
            self.worker = task
            self.state.tasks.add(task)

    # Requests

    def _on_head(self, head: RequestHead) -> None:
        state = self.state
        if head.http_version not in _VERSIONS:
            self._on_protocol_error(
                ProtocolError(400, "no HTTP version")
                if head.http_version in ("0.9", "")
                else ProtocolError(505, f"HTTP/{head.http_version} is not supported")
            )
            return
        check = http11.RequestCheck(head.headers, head.http_version)
        if check.error is not None:
            self._on_protocol_error(ProtocolError(400, check.error))
            return
        raw_path, _, query = head.target.partition(b"?")
        if raw_path[:1] != b"/":
            raw_path = _origin_path(raw_path)
        path = raw_path.decode("latin-1")
        if "%" in path:
            path = unquote(path)
        if state.root_path:
            path = state.root_path + path
            raw_path = state.root_path_bytes + raw_path
        client = self.client
        scheme = self.scheme
        if check.forwarded and self.trusted_proxy:
            client, scheme = _forwarded(check.headers, client, scheme)
        scope = {
            "type": "http",
            "asgi": _ASGI,
            "http_version": head.http_version,
            "server": self.server,
            "client": client,
            "scheme": scheme,
            "method": head.method.decode("ascii"),
            "root_path": state.root_path,
            "path": path,
            "raw_path": raw_path,
            "query_string": query,
            "headers": check.headers,
            # A new dict per request: a middleware that adds or removes an extension
            # changes its own request only.
            "extensions": {"http.response.pathsend": {}},
            # A copy per request (ASGI); a new empty dict when lifespan set nothing.
            "state": state.lifespan_state.copy() if state.lifespan_state else {},
        }
        if check.upgrade is not None and self._on_upgrade(head, check, scope):
            return
        cycle = RequestCycle(self, scope, check.keep_alive, check.expect_continue)
        self.receiving = cycle
        self._enqueue(cycle)

    def _on_upgrade(self, head: RequestHead, check: http11.RequestCheck,
                    scope: dict[str, Any]) -> bool:
        """A request with an Upgrade header: True when it was taken as a WebSocket
        handshake (or refused as a malformed one), False to answer it as plain HTTP."""
        state = self.state
        if state.ws_adapter is not None and head.http_version == "1.1" and \
                websocket.is_websocket_upgrade(head.method, check.headers):
            headers = check.headers
            has_body = any(
                name == b"transfer-encoding" or (name == b"content-length"
                                                 and value.strip() != b"0")
                for name, value in headers)
            key, error = websocket.handshake(headers, has_body)
            if error is not None:
                self._on_protocol_error(error)
                return True
            config = state.config
            adapter = state.ws_adapter(config.ws_max_size, config.ws_per_message_deflate)
            offers = [value for name, value in headers if name == b"sec-websocket-extensions"]
            cycle = websocket.WebSocketCycle(self, websocket.websocket_scope(self, scope), key,
                                             adapter, adapter.negotiate(offers))
            # No byte after this head is HTTP: the rest go to the WebSocket.
            self.parsing = False
            self.websocket = cycle
            cycle.head = head
            self._enqueue(cycle)
            return True
        if not state.upgrade_warned:
            # Answered as plain HTTP/1.1 (RFC 9110 §7.8 lets a server ignore Upgrade).
            state.upgrade_warned = True
            error_log.warning(
                "unsupported upgrade request (%s) answered as HTTP/1.1; logged once",
                check.upgrade.decode("latin-1"),
            )
        return False

    def _check_early_data(self) -> None:
        """A WebSocket handshake arrived in this read: bytes after it were sent before our
        answer (RFC 6455 §4.1: the client must wait for it) and went to the HTTP parser,
        which cannot hand them back, so such a handshake is refused with 400. The parser
        holds them, or failed on them (its events after the head were not read): either
        way a request fed to it as a probe does not come out unchanged. The parser is not
        used again in any case."""
        cycle = self.websocket
        cycle.head = None
        probe = self.parser.feed(_PROBE)
        if len(probe) == 2 and type(probe[0]) is RequestHead and \
                probe[0].method == b"GET" and probe[0].target == b"/asgibench-probe":
            return
        if cycle in self.pending:
            self.pending.remove(cycle)
            self.websocket = None
            self._enqueue(ProtocolError(400, "data sent before the WebSocket handshake "
                                             "was answered"))

    def _on_protocol_error(self, error: ProtocolError) -> None:
        self.parsing = False
        broken = self.receiving  # a request whose body turned out malformed (or stalled)
        if broken is not None:
            self.receiving = None
            if broken is self.cycle:
                if broken.reject(error.status):
                    self._send_error(error)
                else:
                    self.close()  # its response is already under way: cut it short
                return
            self.pending.remove(broken)  # queued behind others: it never runs
        self._enqueue(error)

    def _enqueue(self, item: RequestCycle | ProtocolError) -> None:
        pending = self.pending
        if self.cycle is None and not pending:  # is_idle() and _cancel_timer(), inlined
            self.deadline = None
        pending.append(item)

    async def _work(self, generation: int) -> None:
        state = self.state
        pending = self.pending
        try:
            # A worker is detached only while its app runs: checked when the app returns.
            while pending and not self.transport.is_closing():
                if self.writing_paused:
                    # The client is not reading: answer no more until it catches up.
                    self.batching = False
                    self.waiting_to_write = True
                    try:
                        await self.drain()
                    finally:
                        self.waiting_to_write = False
                    continue
                self.batching = True
                item = pending.popleft()
                if type(item) is ProtocolError:
                    self._send_error(item)
                    return
                self.cycle = self.running = item
                app = state.app
                limit = state.limit_concurrency
                if limit is not None and (
                    len(state.connections) > limit or state.active >= limit
                ):
                    app = _service_unavailable
                state.active += 1
                try:
                    # Each request runs in its own copy of the context, as it would in a
                    # task of its own: pipelined requests share this task, not variables.
                    context = copy_context()
                    run = context.run(app, item.scope, item.receive, item.send)
                    if type(run) is not types.CoroutineType:
                        run = context.run(run.__await__)  # any other awaitable
                    try:
                        # Most apps answer without waiting: one send() and done, no wrapper.
                        waiting_on = context.run(run.send, None)
                    except StopIteration:
                        pass
                    else:
                        await _flushing_on_suspend(run, waiting_on, self, context)
                except asyncio.CancelledError:
                    self.abort()
                    raise
                except BaseException:
                    item.app_failed()
                else:
                    item.app_returned()  # a RequestCycle or a WebSocketCycle
                finally:
                    state.active -= 1
                if generation != self.generation:
                    return  # detached: what was queued meanwhile is a new worker's
                self.running = None
                if self.reading_paused:
                    self._maybe_resume_reading()
        finally:
            if generation == self.generation and self.worker is not None:
                state.tasks.discard(self.worker)
                self.worker = None
            self.batching = False
            self.flush()

    def _send_error(self, error: ProtocolError) -> None:
        # A client's mistake, not ours: no traceback, just the status and a close.
        self._cancel_timer()
        self.write(self.state.error_response(error.status, error.reason, error.headers))
        self.close()

    def response_complete(self, cycle: RequestCycle) -> None:
        """Called by the cycle when its last body byte is written."""
        state = self.state
        state.total_requests += 1
        if state.limit_max_requests is not None and \
                state.total_requests >= state.limit_max_requests:
            state.should_exit.set()
        if state.access_log:
            cycle.log_access()
        self.cycle = None
        if self.transport.is_closing():
            return
        if not cycle.keep_alive or not cycle.body_complete or self.closing:
            # An unread request body cannot be skipped safely: close instead.
            self.close()
            return
        if not self.pending:
            if self.eof:
                self.close()
                return
            # _start_timer(timeout_keep_alive, _IDLE), without the call while the armed
            # timer fires before the new deadline (it re-arms itself then): hot path.
            deadline = self.loop.time() + state.timeout_keep_alive
            if self.timer is not None and deadline >= self.timer_when:
                self.timer_kind = _IDLE
                self.deadline = deadline
            else:
                self._start_timer(state.timeout_keep_alive, _IDLE)

    def continue_sent(self, cycle: RequestCycle) -> None:
        """``100 Continue`` went out: the client now sends the body, and must keep it coming."""
        if cycle is self.receiving and self.deadline is None and self.parsing:
            self._start_body_timer()

    def body_consumed(self, size: int) -> None:
        self.buffered -= size
        if self.reading_paused:
            self._maybe_resume_reading()

    def _pause_reading(self) -> None:
        self.reading_paused = True
        if not self.transport.is_closing():
            self.transport.pause_reading()

    def _maybe_resume_reading(self) -> None:
        if (
            not self.writing_paused
            and self.buffered <= READ_HIGH_WATER // 4
            and len(self.pending) <= PIPELINE_HIGH_WATER
            and (self.websocket is None or not self.websocket.read_blocked)
        ):
            self.reading_paused = False
            if not self.transport.is_closing():
                self.transport.resume_reading()
            if self.receiving is not None and self.parsing and self.deadline is None:
                self._start_body_timer()  # the body is expected to move again

    # Writing

    def write(self, data: bytes) -> None:
        """Queue bytes; they go out when the worker waits or finishes its requests, at
        64 KiB, or at once when the writer is not the worker running an app."""
        self.out.append(data)
        self.out_size += len(data)
        if self.out_size > WRITE_BATCH_LIMIT or not self.batching:
            self.flush()

    def flush(self) -> None:
        out = self.out
        if out:
            data = out[0] if len(out) == 1 else b"".join(out)
            out.clear()
            self.out_size = 0
            if not self.transport.is_closing():
                self.transport.write(data)

    async def drain(self) -> None:
        """Flush, then wait while the transport's buffer is above its high-water mark."""
        self.flush()
        if self.writing_paused and not self.transport.is_closing():
            waiter = self.loop.create_future()
            self.drain_waiters.append(waiter)
            await waiter

    def close(self) -> None:
        """Close after the buffered bytes are sent."""
        transport = self.transport
        if transport.is_closing():
            return
        self.flush()
        if transport.can_write_eof():
            # rloop 0.5's close() leaves the socket open; a FIN first closes it everywhere.
            try:
                transport.write_eof()
            except (OSError, RuntimeError):
                pass
        transport.close()

    def abort(self) -> None:
        self.parsing = False
        if self.transport is not None:
            self.close()

    # Timers and shutdown

    def _start_timer(self, delay: float, kind: int) -> None:
        self.timer_kind = kind
        self.deadline = deadline = self.loop.time() + delay
        if self.timer is None or deadline < self.timer_when:
            if self.timer is not None:
                self.timer.cancel()
            self._arm(deadline)

    def _arm(self, when: float) -> None:
        self.timer_when = when
        self.timer = self.loop.call_at(when, self._on_timeout)

    def _cancel_timer(self) -> None:
        self.deadline = None

    def _start_body_timer(self) -> None:
        receiving = self.receiving
        # Not while the client waits for 100 Continue (the app has not asked for the body
        # yet), nor while we stopped reading (the app is behind, not the client).
        if not receiving.expect_continue and not self.reading_paused:
            self._start_timer(self.state.timeout_request_body, _BODY)

    def _on_timeout(self) -> None:
        self.timer = None
        deadline = self.deadline
        if deadline is None:
            return
        if self.loop.time() < deadline:
            self._arm(deadline)
            return
        self.deadline = None
        if self.timer_kind == _BODY:
            if self.receiving is not None and not self.reading_paused and self.parsing:
                # RFC 9110 §15.5.9: 408 where nothing was answered yet, then close.
                self._on_protocol_error(ProtocolError(408, "request body timed out"))
                if self.worker is None and self.pending:
                    self._start_worker()
        elif self.is_idle():
            self.close()

    def shutdown(self) -> None:
        """Server is stopping: close now if idle, else after the current response.

        Requests queued behind a client that reads nothing were never started: they are
        dropped with the connection (as after any response while closing), so such a
        client cannot hold the shutdown up.
        """
        self.closing = True
        self.parsing = False
        if self.websocket is not None:
            self.websocket.shutdown()  # 1012, RFC 6455 §7.4.1 / IANA
            return
        if self.waiting_to_write:
            self.pending.clear()
            self.close()
            self._release_drain_waiters()
        elif self.is_idle():
            self.close()

    def shutdown_timed_out(self) -> None:
        """The graceful period is over: answer 503 to a request that got nothing yet, and
        close (the caller cancels the apps)."""
        cycle = self.cycle
        if cycle is not None and cycle.take_over(503):
            self.write(self.state.error_response(503, "the server is shutting down"))
        self.abort()

    def is_idle(self) -> bool:
        return self.cycle is None and not self.pending

    def _cycles(self) -> list[Any]:
        """Every request of this connection not yet answered, running or queued, and its
        WebSocket."""
        items = (self.cycle, self.receiving, *self.pending, self.websocket)
        return [c for c in dict.fromkeys(items)
                if c is not None and type(c) is not ProtocolError]


if sys.version_info >= (3, 12):

    def _start_task(coro: Any, loop: asyncio.AbstractEventLoop) -> asyncio.Task[None]:
        """A task that runs ``coro`` at once, up to its first suspension.

        Most requests never suspend, so they are answered inside ``data_received``:
        no scheduling round trip through the loop, no task registration.
        """
        return asyncio.Task(coro, loop=loop, eager_start=True)

else:

    _Task = asyncio.Task

    def _start_task(coro: Any, loop: asyncio.AbstractEventLoop) -> asyncio.Task[None]:
        # The Task constructor directly, as loop.create_task() would call it: the loop's
        # method is one more call (uvloop's parses keywords, asyncio's names the task in
        # Python), about 1.3k instructions a request. A task factory is still honoured.
        if loop.get_task_factory() is None:
            return _Task(coro, loop=loop)
        return loop.create_task(coro)


@types.coroutine
def _flushing_on_suspend(
    coro: Any, yielded: Any, conn: HTTPConnection, context: Context
) -> Any:
    """Resume ``coro`` (which has just yielded ``yielded``) inside ``context``, flushing
    ``conn`` whenever it suspends.

    Responses are batched while the worker runs; once an app waits on something, the
    bytes already produced must not wait with it, and whatever another task writes while
    it waits (a streaming response sent from a task group) goes out at once.
    """
    while True:
        conn.flush()
        conn.batching = False
        try:
            value = yield yielded
        except BaseException as exc:  # cancellation, thrown in by the task
            step, arg = coro.throw, exc
        else:
            step, arg = coro.send, value
        conn.batching = True
        try:
            yielded = context.run(step, arg)
        except StopIteration as stop:
            return stop.value


async def _service_unavailable(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = b"Service Unavailable"
    prefix = "websocket.http" if scope["type"] == "websocket" else "http"  # a denial
    await send(
        {
            "type": f"{prefix}.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", b"%d" % len(body)),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": f"{prefix}.response.body", "body": body})


def _origin_path(target: bytes) -> bytes:
    """absolute-form (``http://host/p``) -> ``/p``; ``*`` (OPTIONS) stays as it is."""
    if b"://" in target:
        _, _, rest = target.partition(b"://")
        slash = rest.find(b"/")
        return rest[slash:] if slash >= 0 else b"/"
    return target


def _is_trusted(trusted: tuple[bool, list[Any]], client: tuple[str, int] | None) -> bool:
    everyone, networks = trusted
    if everyone:
        return True
    if client is None:
        return False
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:
        return False
    return any(address in network for network in networks)


def _forwarded(
    headers: list[tuple[bytes, bytes]], client: tuple[str, int] | None, scheme: str
) -> tuple[tuple[str, int] | None, str]:
    for name, value in headers:
        if name == b"x-forwarded-proto":
            proto = value.decode("latin-1").split(",")[-1].strip().lower()
            if proto in ("http", "https"):
                scheme = proto
        elif name == b"x-forwarded-for":
            host = value.decode("latin-1").split(",")[-1].strip()
            if host:
                client = (host, 0)
    return client, scheme
