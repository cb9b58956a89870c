"""A peer server that claims to run N workers but starts one process (its ``with_workers``
returns the one-worker command line): the run's readiness check must catch it."""

from __future__ import annotations

from fakeserver import FakeServer

from asgibench.harness.servers import SERVERS


class OneWorker(FakeServer):
    def with_workers(self, argv: list[str], workers: int) -> list[str] | None:
        return argv


SERVERS.register("oneworker", OneWorker("oneworker", "asgibench", "asgibench", ""))
