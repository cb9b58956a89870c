"""A deliberately broken HTTP server for the harness tests (run as a script).

``python badserver.py PORT MODE``; modes:

* ``good``     -- correct plaintext/json responses (like the canned server)
* ``nodate``   -- no Date header
* ``wrongbody``-- ``Hello, world!`` (wrong case) and ``{"message": "hello, world!"}``
* ``staledate``-- a Date that never changes
* ``close``    -- ``Connection: close`` and closes after each response
* ``crash``    -- correct, but the process exits (status 3) after its 300th response
* ``nostart``  -- prints a message and exits with status 4 before listening
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from email.utils import formatdate

BODIES = {b"/plaintext": (b"text/plain", b"Hello, World!"),
          b"/json": (b"application/json", b'{"message": "Hello, World!"}')}
WRONG = {b"/plaintext": (b"text/plain", b"Hello, world!"),
         b"/json": (b"application/json", b'{"message": "hello, world!"}')}

STALE = formatdate(time.time(), usegmt=True).encode()


class Proto(asyncio.Protocol):
    served = 0

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.buf = b""

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.buf += data
        while b"\r\n\r\n" in self.buf:
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            path = head.split(b" ")[1]
            table = WRONG if self.mode == "wrongbody" else BODIES
            ctype, body = table.get(path, (b"text/plain", b"Not Found"))
            status = b"200 OK" if path in table else b"404 Not Found"
            lines = [b"HTTP/1.1 " + status, b"Server: bad", b"Content-Type: " + ctype,
                     b"Content-Length: " + str(len(body)).encode()]
            if self.mode == "staledate":
                lines.append(b"Date: " + STALE)
            elif self.mode != "nodate":
                lines.append(b"Date: " + formatdate(time.time(), usegmt=True).encode())
            if self.mode == "close":
                lines.append(b"Connection: close")
            self.transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
            Proto.served += 1
            if self.mode == "crash" and Proto.served >= 300:
                print("badserver: crashing on purpose (test)", flush=True)
                os._exit(3)
            if self.mode == "close":
                self.transport.close()
                return


async def main(port: int, mode: str) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Proto(mode), "127.0.0.1", port,
                                      reuse_address=True)
    print(f"badserver {mode} on {port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    port, mode = int(sys.argv[1]), sys.argv[2]
    if mode == "nostart":
        print("badserver: refusing to start (test)", flush=True)
        sys.exit(4)
    try:
        asyncio.run(main(port, mode))
    except KeyboardInterrupt:
        pass
