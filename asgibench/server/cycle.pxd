# The compiled build (setup.py, docs/server.md): RequestCycle as an extension type.
cimport cython


@cython.final
cdef class RequestCycle:
    cdef public object conn, content_length, pending_head, scope, status, waiter
    cdef public list body
    cdef public bint bodiless, body_complete, chunked, delivered_final, disconnected
    cdef public bint expect_continue, head_request, http10, keep_alive, peer_eof
    cdef public bint response_complete, response_started
    cdef public Py_ssize_t sent_length

    cpdef feed_body(self, data)
    cpdef end_body(self)
    cpdef _wake(self)
    cpdef app_failed(self)
    cpdef app_returned(self)
    cpdef _fail(self)
    cpdef _start(self, status, headers)
    cpdef log_access(self)
