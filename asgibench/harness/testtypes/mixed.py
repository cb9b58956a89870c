"""HttpArena-style ``mixed``: one weighted turn of the built-in app's routes, as an API
server sees them: plaintext 3, json 3, a 4 KiB and a 64 KiB static file 2 and 1, and a
64 KiB upload 1 (Content-Length); each response verified exactly."""

from __future__ import annotations

import dataclasses
import re

from asgibench.harness.testtypes import (
    ACCEPT_JSON,
    ACCEPT_PLAINTEXT,
    TestType,
    json_serialization,
    plaintext,
    static,
    upload,
)
from asgibench.harness.workloads import Request, Workload

UPLOAD_SIZE = 64 * 1024
_CHECKS = (plaintext.check_body, json_serialization.check_body, static.check_body,
           lambda body: upload.check_answer(body, upload.payload(UPLOAD_SIZE)))


def _workload() -> Workload:
    return Workload("mixed", (
        Request("GET", plaintext.TEST_TYPE.path, (("Accept", ACCEPT_PLAINTEXT),),
                expect_status=200, weight=3,
                check_exact=lambda headers, body: plaintext.check_body(body)),
        Request("GET", json_serialization.TEST_TYPE.path, (("Accept", ACCEPT_JSON),),
                expect_status=200, weight=3,
                check_exact=lambda headers, body: json_serialization.check_body(body)),
        *(dataclasses.replace(request, weight=weight) for request, weight in
          zip(static.requests(("4k.bin", "64k.bin")), (2, 1), strict=True)),
        upload.requests(UPLOAD_SIZE)[0],
    ), source="built-in")


def check_body(body: bytes) -> str | None:
    """Under load: a correct answer to one of the mix's requests."""
    problems = [check(body) for check in _CHECKS]
    return None if None in problems else f"{body[:40]!r} answers none of the mix's requests"


TEST_TYPE = TestType(
    name="mixed",
    path=plaintext.TEST_TYPE.path,
    accept="*/*",
    content_type=re.compile(".*"),
    check_body=check_body,
    levels=(16, 64, 256),
    quick_levels=(64,),
    fast_bodies=(plaintext.BODY, *json_serialization.TEST_TYPE.fast_bodies),
    description="plaintext 3, json 3, static 4 KiB 2 and 64 KiB 1, a 64 KiB upload 1",
    workload_source=_workload,
)
