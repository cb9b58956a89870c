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
from asgibench.server import http11
from asgibench.server.cycle import RequestCycle
from asgibench.server.state import ServerState

# Request-body bytes buffered ahead of the app before we stop reading the socket.
READ_HIGH_WATER = 256 * 1024
# Pipelined requests queued behind the running one before we stop reading.
PIPELINE_HIGH_WATER = 64
# Response bytes batched before they are written even though more are coming.
WRITE_BATCH_LIMIT = 64 * 1024
_ASGI = {"version": "3.0", "spec_version": "2.3"}
_VERSIONS = frozenset(("1.1", "1.0"))


class HTTPConnection(asyncio.Protocol):
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
        self.out: list[bytes] = []
        self.out_size = 0
        self.parsing = True  # False once no further byte can start a request
        self.closing = False  # close after the current response (shutdown)
        self.eof = False
        self.buffered = 0
        self.reading_paused = False
        self.writing_paused = False
        self.drain_waiter: asyncio.Future[None] | None = None
        # One lazily re-armed timer: requests only move ``deadline``, which is cheaper
        # than a call_later()/cancel() pair per request. None: no timeout is running.
        self.timer: asyncio.TimerHandle | None = None
        self.deadline: float | None = None
        self.timer_when = 0.0
        self.awaiting_head = True  # the deadline is the head timeout, not keep-alive

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
        self._start_timer(state.timeout_request_head, awaiting_head=True)

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
        waiter = self.drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def eof_received(self) -> bool:
        self.eof = True
        self.parsing = False
        for cycle in self._cycles():
            cycle.peer_closed()
        # Keep the write side open so a half-closed client still gets its responses.
        return not self.is_idle()

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        waiter = self.drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def data_received(self, data: bytes) -> None:
        if not self.parsing:
            return
        if self.deadline is not None and not self.awaiting_head:
            self.deadline = None  # keep-alive idleness ends; the head timer starts below
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
        if self.deadline is None and self.parsing and self.is_idle():
            # Part of a head arrived: it must complete within the head timeout.
            self._start_timer(self.state.timeout_request_head, awaiting_head=True)
        if not self.reading_paused and (
            self.buffered > READ_HIGH_WATER or len(self.pending) > PIPELINE_HIGH_WATER
        ):
            self.reading_paused = True
            self.transport.pause_reading()
        if self.pending and self.worker is None:
            # Started once every request of this read is queued, so a pipelined burst
            # is answered by one task in one write.
            task = _start_task(self._work(), self.loop)
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
            "state": state.lifespan_state.copy(),
        }
        cycle = RequestCycle(self, scope, check.keep_alive, check.expect_continue)
        self.receiving = cycle
        self._enqueue(cycle)

    def _on_protocol_error(self, error: ProtocolError) -> None:
        self.parsing = False
        broken = self.receiving  # a request whose body turned out malformed
        if broken is not None:
            self.receiving = None
            if broken is self.cycle:
                if broken.reject():
                    self._send_error(error)
                else:
                    self.close()  # its response is already under way: cut it short
                return
            self.pending.remove(broken)  # queued behind others: it never runs
        self._enqueue(error)

    def _enqueue(self, item: RequestCycle | ProtocolError) -> None:
        if self.is_idle():
            self._cancel_timer()
        self.pending.append(item)

    async def _work(self) -> None:
        state = self.state
        pending = self.pending
        try:
            while pending and not self.transport.is_closing():
                item = pending.popleft()
                if type(item) is ProtocolError:
                    self._send_error(item)
                    return
                self.cycle = item
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
                        await _flushing_on_suspend(run, waiting_on, self.flush, context)
                except asyncio.CancelledError:
                    self.abort()
                    raise
                except BaseException:
                    item.app_failed()
                else:
                    item.app_returned()
                finally:
                    state.active -= 1
                if self.reading_paused:
                    self._maybe_resume_reading()
        finally:
            if self.worker is not None:
                state.tasks.discard(self.worker)
                self.worker = None
            self.flush()

    def _send_error(self, error: ProtocolError) -> None:
        # A client's mistake, not ours: no traceback, just the status and a close.
        self._cancel_timer()
        self.write(http11.error_response(error.status, error.reason))
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
            else:
                self._start_timer(state.timeout_keep_alive, awaiting_head=False)

    def body_consumed(self, size: int) -> None:
        self.buffered -= size
        if self.reading_paused:
            self._maybe_resume_reading()

    def _maybe_resume_reading(self) -> None:
        if self.buffered <= READ_HIGH_WATER // 4 and len(self.pending) <= PIPELINE_HIGH_WATER:
            self.reading_paused = False
            self.transport.resume_reading()

    # Writing

    def write(self, data: bytes) -> None:
        """Queue bytes; they go out when the app waits, its requests run out, or 64 KiB."""
        self.out.append(data)
        self.out_size += len(data)
        if self.out_size > WRITE_BATCH_LIMIT:
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
        self.flush()
        if self.writing_paused and not self.transport.is_closing():
            self.drain_waiter = self.loop.create_future()
            await self.drain_waiter
            self.drain_waiter = None

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

    def _start_timer(self, delay: float, awaiting_head: bool) -> None:
        self.awaiting_head = awaiting_head
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

    def _on_timeout(self) -> None:
        self.timer = None
        deadline = self.deadline
        if deadline is None:
            return
        if self.loop.time() < deadline:
            self._arm(deadline)
        elif self.is_idle():
            self.close()

    def shutdown(self) -> None:
        """Server is stopping: close now if idle, else after the current response."""
        self.closing = True
        self.parsing = False
        if self.is_idle():
            self.close()

    def is_idle(self) -> bool:
        return self.cycle is None and not self.pending

    def _cycles(self) -> list[RequestCycle]:
        """Every request of this connection not yet answered, running or queued."""
        items = (self.cycle, self.receiving, *self.pending)
        return [c for c in dict.fromkeys(items) if isinstance(c, RequestCycle)]


if sys.version_info >= (3, 12):

    def _start_task(coro: Any, loop: asyncio.AbstractEventLoop) -> asyncio.Task[None]:
        """A task that runs ``coro`` at once, up to its first suspension.

        Most requests never suspend, so they are answered inside ``data_received``:
        no scheduling round trip through the loop, no task registration.
        """
        return asyncio.Task(coro, loop=loop, eager_start=True)

else:

    def _start_task(coro: Any, loop: asyncio.AbstractEventLoop) -> asyncio.Task[None]:
        return loop.create_task(coro)


@types.coroutine
def _flushing_on_suspend(coro: Any, yielded: Any, flush: Any, context: Context) -> Any:
    """Resume ``coro`` (which has just yielded ``yielded``) inside ``context``, calling
    ``flush()`` whenever it suspends.

    Responses are batched while the worker runs; once an app waits on something, the
    bytes already produced must not wait with it.
    """
    while True:
        flush()
        try:
            value = yield yielded
        except BaseException as exc:  # cancellation, thrown in by the task
            step, arg = coro.throw, exc
        else:
            step, arg = coro.send, value
        try:
            yielded = context.run(step, arg)
        except StopIteration as stop:
            return stop.value


async def _service_unavailable(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = b"Service Unavailable"
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", b"%d" % len(body)),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


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
