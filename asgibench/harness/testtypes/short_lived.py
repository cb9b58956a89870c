"""HttpArena-style ``short-lived``: ``GET /plaintext`` with ``Connection: close``, one
request per connection, so what is measured is the cost of accepting a connection and
tearing it down around one small response."""

from __future__ import annotations

from asgibench.harness.testtypes import ACCEPT_PLAINTEXT, TestType, plaintext
from asgibench.harness.workloads import Request, Workload

WORKLOAD = Workload(
    "short-lived",
    (Request("GET", plaintext.TEST_TYPE.path, (("Accept", ACCEPT_PLAINTEXT),),
             expect_status=200,
             check_exact=lambda headers, body: plaintext.check_body(body)),),
    connection="close",
    source="built-in",
)

TEST_TYPE = TestType(
    name="short-lived",
    path=plaintext.TEST_TYPE.path,
    accept=ACCEPT_PLAINTEXT,
    content_type=plaintext.TEST_TYPE.content_type,
    check_body=plaintext.check_body,
    levels=(16, 64, 256),
    quick_levels=(64,),
    fast_bodies=(plaintext.BODY,),
    description="Hello, World! on a new connection per request (Connection: close)",
    workload_source=WORKLOAD,
)
