"""The facts a results file records about the machine that produced it."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from asgibench import _build

#: Packages whose versions every results file records (None when not installed).
PACKAGES = ("asgibench", "uvloop", "winloop", "rloop", "httptools", "h11", "zttp",
            "uvicorn", "hypercorn", "granian", "httpx", "click", "rich")


def cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if sys.platform == "darwin":
        try:
            out = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"],
                                 capture_output=True, text=True, timeout=5, check=False)
            if out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            pass
    return platform.processor() or None


def git_info() -> dict[str, Any]:
    """The commit of the asgibench checkout (None when not run from a git checkout)."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=5, check=False)
        if head.returncode != 0:
            return {"commit": None, "dirty": None}
        status = subprocess.run(["git", "-C", str(here), "status", "--porcelain",
                                 "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return {"commit": None, "dirty": None}
    dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
    info: dict[str, Any] = {"commit": head.stdout.strip(), "dirty": dirty}
    if dirty:
        # Which uncommitted changes: two dirty runs are the same asgibench only when their
        # diffs are (bench report pools runs of one asgibench only).
        try:
            diff = subprocess.run(["git", "-C", str(here), "diff", "HEAD"],
                                  capture_output=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return info
        if diff.returncode == 0:
            info["diff_sha256"] = hashlib.sha256(diff.stdout).hexdigest()[:16]
    return info


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def environment(usable_cpus: list[int]) -> dict[str, Any]:
    uname = platform.uname()
    return {
        "os": {"system": uname.system, "release": uname.release,
               "platform": platform.platform()},
        "cpu": {"model": cpu_model(), "cores": os.cpu_count() or 1,
                "usable_cpus": usable_cpus, "machine": uname.machine},
        "python": {"implementation": platform.python_implementation(),
                   "version": platform.python_version(), "executable": sys.executable},
        # The servers bench run starts inherit it (and ASGIBENCH_PURE_PYTHON).
        "core_build": _build.current().name,
        "packages": package_versions(),
        "git": git_info(),
    }


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
