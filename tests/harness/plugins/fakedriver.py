"""A fake load driver: the Python driver under another name."""

from __future__ import annotations

from asgibench.harness.drivers import DRIVERS
from asgibench.harness.drivers.pydriver import PythonDriver


class FakeDriver(PythonDriver):
    name = "fakedriver"


DRIVERS.register("fakedriver", FakeDriver())
