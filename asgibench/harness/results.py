"""Results files: one JSON document per run, schema ``asgibench.results/1``.

The format is documented in ``results/README.md`` and specified by
:data:`asgibench.harness.schema.SCHEMA`. :func:`write` validates before writing;
:func:`read` raises :class:`~asgibench.errors.BenchError` (one line) for a file that is
missing, unreadable, not JSON, of another schema version, or invalid.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from asgibench.errors import BenchError
from asgibench.harness import schema

SCHEMA_ID = schema.SCHEMA_ID
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
    return {"commit": head.stdout.strip(), "dirty": dirty}


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
        "packages": package_versions(),
        "git": git_info(),
    }


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_filename(created: str) -> str:
    stamp = re.sub(r"[^0-9T]", "", created)
    host = re.sub(r"[^A-Za-z0-9_.-]", "-", platform.node() or "host")[:40]
    return f"asgibench-{stamp}-{host}.json"


def output_path(out: str | os.PathLike[str], created: str) -> Path:
    """``--out``: a ``.json`` path is the file; anything else is a directory."""
    path = Path(out)
    if path.suffix.lower() == ".json":
        return path
    return path / default_filename(created)


def check_writable(out: str | os.PathLike[str]) -> None:
    """BenchError now, rather than after the run, if ``--out`` cannot take a file."""
    path = Path(out)
    directory = path.parent if path.suffix.lower() == ".json" else path
    if path.suffix.lower() == ".json" and path.is_dir():
        raise BenchError(f"--out {str(path)!r} is a directory; drop the .json or pick a file")
    if directory.exists() and not directory.is_dir():
        raise BenchError(f"--out {str(directory)!r} is a file, not a directory")
    probe = directory
    while not probe.exists():
        probe = probe.parent
    if not os.access(probe, os.W_OK):
        raise BenchError(f"--out {str(out)!r}: {str(probe)!r} is not writable")


def write(document: dict[str, Any], path: Path) -> Path:
    """Validate and write ``document``; BenchError if the file cannot be written."""
    schema.validate(document)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise BenchError(f"cannot write results file {str(path)!r}: {exc.strerror or exc}") \
            from exc
    return path


def read(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load and validate a results file; every problem is one BenchError line."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BenchError(f"results file {name!r} does not exist") from None
    except IsADirectoryError:
        raise BenchError(f"results file {name!r} is a directory") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise BenchError(f"cannot read results file {name!r}: {reason}") from None
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise BenchError(f"results file {name!r} is not valid JSON: {exc}") from None
    if not isinstance(document, dict) or "schema" not in document:
        raise BenchError(f"{name!r} is not an asgibench results file (no \"schema\" key)")
    if document["schema"] != SCHEMA_ID:
        raise BenchError(
            f"results file {name!r} has schema {document['schema']!r}; this asgibench reads "
            f"{SCHEMA_ID!r}"
        )
    problems = schema.errors(document)
    if problems:
        raise BenchError(f"results file {name!r} is invalid: {problems[0]}"
                         + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
    return document
