# The compiled build (setup.py, docs/server.md): HTTPConnection as an extension type, its
# attributes C fields. Every attribute connection.py sets in __init__ is declared here;
# ``public`` keeps each readable and writable from Python code (tests, the WebSocket
# cycle). ``websocket`` is a class attribute set on the instance only when it upgrades:
# the instance __dict__ holds it.
cdef class HTTPConnection:
    cdef public object state, loop, parser, transport, client, server, scheme
    cdef public object cycle, receiving, pending, worker, running, out
    cdef public object drain_waiters, timer, deadline, timer_kind
    cdef public bint trusted_proxy, batching, waiting_to_write, parsing, closing, eof
    cdef public bint reading_paused, writing_paused
    cdef public Py_ssize_t generation, out_size, buffered
    cdef public double timer_when
    cdef dict __dict__
    cdef object __weakref__
