"""CPU pinning (asgibench.harness.pinning): CPU lists and server/driver plans."""

from __future__ import annotations

import pytest

from asgibench.errors import BenchError
from asgibench.harness import pinning


def test_cpu_lists() -> None:
    assert pinning.parse_cpu_list("0-2,5") == [0, 1, 2, 5]
    assert pinning.parse_cpu_list(" 3 ") == [3]
    for bad in ("", "a", "3-1", "-1", "1-"):
        with pytest.raises(BenchError):
            pinning.parse_cpu_list(bad)


def test_pin_plans() -> None:
    none = pinning.plan("none")
    assert not none.active and none.server is None and "disabled" in none.note
    auto = pinning.plan("auto")
    usable = pinning.usable_cpus()
    if pinning.supported() and len(usable) >= 2:
        assert auto.active and not set(auto.server or []) & set(auto.driver or [])
        assert sorted((auto.server or []) + (auto.driver or [])) == usable
        explicit = pinning.plan(f"{usable[0]}:{usable[-1]}")
        assert explicit.server == [usable[0]] and explicit.driver == [usable[-1]]
    else:
        assert not auto.active and auto.note
    with pytest.raises(BenchError, match="SERVER:DRIVER"):
        pinning.plan("0")
    with pytest.raises(BenchError, match="cannot use"):
        pinning.plan("0:4096")
    assert auto.to_dict()["method"] in ("sched_setaffinity", "none")
