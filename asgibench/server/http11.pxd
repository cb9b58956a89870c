# The compiled build (setup.py, docs/server.md): RequestCheck as an extension type.
cdef class RequestCheck:
    cdef public object error, headers, upgrade
    cdef public bint expect_continue, forwarded, keep_alive
