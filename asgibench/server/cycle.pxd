# The compiled build (setup.py, docs/server.md): RequestCycle as an extension type.
cdef class RequestCycle:
    cdef public object body, conn, content_length, pending_head, scope, status, waiter
    cdef public bint bodiless, body_complete, chunked, delivered_final, disconnected
    cdef public bint expect_continue, head_request, http10, keep_alive, peer_eof
    cdef public bint response_complete, response_started
    cdef public Py_ssize_t sent_length
