"""The ASGI servers ``bench run`` can measure: one module each, defining ``SERVER`` (a
:class:`asgibench.harness.servers.ServerKind`), and one line in
:data:`asgibench.harness.servers.SERVERS`."""
