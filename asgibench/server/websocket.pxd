# The compiled build (setup.py, docs/server.md): WebSocketCycle as an extension type, its
# attributes C fields (``keep_alive`` stays a class attribute).
cimport cython


@cython.final
cdef class WebSocketCycle:
    cdef public object conn, scope, key, adapter, extensions, max_queue, ping_interval
    cdef public object ping_timeout, state, queue, waiter, early, head, close_code
    cdef public object close_reason, ping_payload, timer, status
    cdef public bint connect_delivered, read_blocked, app_done
