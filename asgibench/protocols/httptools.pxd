# The compiled build (setup.py, docs/server.md): the adapter as an extension type.
cdef class HttptoolsParser:
    cdef public object _parser, _events, _url, _headers
    cdef public bint _primed, _in_head, _fed_exact, _began_here, _finished
    cdef public Py_ssize_t _limit, _head_bytes, _partial, _fed, _head_start, _feed_size
