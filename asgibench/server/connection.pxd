# The compiled build (setup.py, docs/server.md): HTTPConnection as an extension type, its
# attributes C fields. Every attribute connection.py sets in __init__ is declared here;
# ``public`` keeps each readable and writable from Python code (tests, the WebSocket
# cycle). ``websocket`` is a class attribute set on the instance only when it upgrades:
# the instance __dict__ holds it. ``final`` and ``cpdef``: a call of one of these methods
# on ``self`` is a C call, not an attribute lookup and a Python call.
cimport cython


@cython.final
cdef class HTTPConnection:
    cdef public object state, loop, parser, transport, client, server, scheme
    cdef public object cycle, receiving, pending, worker, running
    cdef public list out, drain_waiters
    cdef public object timer, deadline, timer_kind
    cdef public bint trusted_proxy, batching, waiting_to_write, parsing, closing, eof
    cdef public bint reading_paused, writing_paused
    cdef public Py_ssize_t generation, out_size, buffered
    cdef public double timer_when
    cdef dict __dict__

    cpdef _on_head(self, head)
    cpdef _enqueue(self, item)
    cpdef _on_protocol_error(self, error)
    cpdef _send_error(self, error)
    cpdef response_complete(self, cycle)
    cpdef _pause_reading(self)
    cpdef _maybe_resume_reading(self)
    cpdef write(self, data)
    cpdef flush(self)
    cpdef _start_timer(self, delay, kind)
    cpdef _arm(self, when)
    cpdef _cancel_timer(self)
    cpdef _start_body_timer(self)
