"""The results file's JSON Schema (draft 2020-12) and a small checker for it.

:data:`SCHEMA` is the one source of truth; ``docs/results-schema.json`` is a copy written by
``python -m asgibench.harness.schema > docs/results-schema.json`` (a test keeps them equal).
:func:`validate` checks a document against the subset of JSON Schema used here (type,
const, enum, properties, required, additionalProperties, items, minimum, $ref to $defs)
without any dependency; ``jsonschema`` agrees with it (tested when installed).
"""

from __future__ import annotations

import json
import sys
from typing import Any

SCHEMA_ID = "asgibench.results/1"

_NUM = {"type": "number"}
_INT = {"type": "integer", "minimum": 0}
_STR = {"type": "string"}
_STR_OR_NULL = {"type": ["string", "null"]}
_CPUS = {"type": ["array", "null"], "items": {"type": "integer", "minimum": 0}}


def _obj(required: dict[str, Any], optional: dict[str, Any] | None = None,
         extra: bool = True) -> dict[str, Any]:
    props = dict(required)
    props.update(optional or {})
    out: dict[str, Any] = {"type": "object", "properties": props, "required": list(required)}
    if not extra:
        out["additionalProperties"] = False
    return out


_LATENCY = _obj({key: _NUM for key in ("p50", "p75", "p90", "p99", "max", "mean", "stdev")},
               {"p99.9": _NUM})
_ERRORS = _obj({key: _INT for key in ("connect", "read", "write", "timeout")})
_MEASUREMENT = _obj(
    {
        "requests": _INT,
        "duration_s": _NUM,
        "requests_per_s": _NUM,
        "latency_ms": {"$ref": "#/$defs/latency"},
        "errors": {"$ref": "#/$defs/errors"},
        "non_2xx": _INT,
        "bad_body": _INT,
        "checked": _INT,
    },
    {
        # The latencies as an encoded HDR histogram, microseconds (the Python driver).
        "histogram": _STR,
        # bench run --rate: how the open-loop measurement kept its schedule.
        "open_loop": _obj(
            {"target_rps": _NUM, "scheduled": _INT, "sent": _INT, "late": _INT,
             "dropped": _INT, "flags": {"type": "array", "items": _STR}},
            {"arrival": {"enum": ["fixed", "poisson"]}, "sent_per_s": _NUM,
             "connections": _INT, "late_after_ms": _NUM, "percent_of_rps": _NUM},
        ),
    },
)
_NUM_OR_NULL = {"type": ["number", "null"]}
_INT_OR_NULL = {"type": ["integer", "null"], "minimum": 0}
#: What a measured level cost (optional: files before resources were sampled lack it).
_RESOURCES = _obj(
    {"wall_s": _NUM},
    {
        "server_cpu_s": _NUM_OR_NULL,
        "server_cpu_resolution_s": _NUM_OR_NULL,
        "server_cpu_user_s": _NUM_OR_NULL,
        "server_cpu_system_s": _NUM_OR_NULL,
        "server_peak_rss_kib": _INT_OR_NULL,
        "server_processes": _INT_OR_NULL,
        "server_unknown": _STR_OR_NULL,
        "driver_cpu_s": _NUM_OR_NULL,
        "driver_wait_s": _NUM_OR_NULL,
        "driver_window_s": _NUM_OR_NULL,
        "driver_cpus": _INT_OR_NULL,
        "driver_unknown": _STR_OR_NULL,
    },
)
_REPEAT = {
    "allOf": [
        {"$ref": "#/$defs/measurement"},
        _obj({"round": {"type": "integer", "minimum": 1}, "client_bound": {"type": "boolean"}},
             {
                 "resources": {"$ref": "#/$defs/resources"},
                 # Runs across hosts: each driver host's share of the measurement, and
                 # (2+ hosts) whether the latencies were merged exactly (histograms).
                 "drivers": {"type": "array", "items": _obj(
                     {"host": _STR, "requests": _INT, "requests_per_s": _NUM})},
                 "latency_merge": {"enum": ["exact", "approximate"]},
             }),
    ]
}
#: One host of a run across hosts (``environment.hosts``), as read on it.
_HOST = _obj(
    {"role": {"enum": ["server", "driver", "database"]}, "url": _STR,
     "environment": {"type": "object"}},
    {"hostname": _STR_OR_NULL, "asgibench_version": _STR_OR_NULL, "cpus": _CPUS,
     "clock_offset_ms": {"type": ["number", "null"]}, "gone": _STR},
)
_CHECK = _obj({"name": _STR, "ok": {"type": "boolean"}, "detail": _STR})

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://github.com/asgibench/asgibench/docs/results-schema.json",
    "title": "asgibench results file",
    "type": "object",
    "required": ["schema", "created", "asgibench_version", "command", "environment",
                 "settings", "ceiling", "entries", "ranking", "composite", "interrupted"],
    "properties": {
        "schema": {"const": SCHEMA_ID},
        "created": _STR,
        "asgibench_version": _STR,
        "command": {"type": "array", "items": _STR},
        "interrupted": {"type": "boolean"},
        "environment": _obj(
            {
                "os": _obj({"system": _STR, "release": _STR, "platform": _STR}),
                "cpu": _obj({"model": _STR_OR_NULL, "cores": {"type": "integer", "minimum": 1},
                             "usable_cpus": {"type": "array", "items": _INT}}),
                "python": _obj({"implementation": _STR, "version": _STR,
                                "executable": _STR}),
                "packages": {"type": "object",
                             "additionalProperties": {"type": ["string", "null"]}},
                "git": _obj({"commit": _STR_OR_NULL, "dirty": {"type": ["boolean", "null"]}}),
            },
            {"hosts": {"type": "array", "items": _HOST},
             "core_build": {"enum": ["compiled", "pure-python", "mixed"]}},
        ),
        "settings": _obj(
            {
                "profile": {"enum": ["quick", "full", "custom"]},
                # Any registered driver's name (asgibench.harness.drivers.DRIVERS).
                "driver": _obj({"name": _STR, "version": _STR_OR_NULL},
                               {"hosts": {"type": "array", "items": _STR}}),
                "tests": {"type": "array", "items": _STR},
                "levels": {"type": "object",
                           "additionalProperties": {"type": "array", "items": _INT}},
                "pipeline": {"type": "object", "additionalProperties": _INT},
                "duration_s": _NUM,
                "warmup_s": _NUM,
                "primer_s": _NUM,
                "pause_s": _NUM,
                "repeat": {"type": "integer", "minimum": 1},
                "timeout_s": _NUM,
                "host": _STR,
                "port": _INT,
                "servers": {"type": "array", "items": _STR},
                "loops": {"type": "array", "items": _STR},
                "parsers": {"type": "array", "items": _STR},
                "app": _STR,
                "app_delay_ms": _NUM,
                "pinning": _obj({"method": _STR, "server_cpus": _CPUS, "driver_cpus": _CPUS,
                                 "note": _STR}, {"ceiling_server_cpus": _CPUS}),
                "notes": {"type": "array", "items": _STR},
            },
            {
                # bench run --url: the server asgibench did not start, and what is
                # therefore not known about it.
                "target": _obj({"url": _STR, "server": _STR},
                               {"unknown": {"type": "array", "items": _STR}}),
                # bench run --rate, --arrival: the open-loop rates as given.
                "rates": {"type": "array", "items": _STR},
                "arrival": {"enum": ["fixed", "poisson"]},
            },
        ),
        "ceiling": {
            "type": "array",
            "items": _obj(
                {"test": _STR, "concurrency": _INT, "pipeline": _INT,
                 "status": {"enum": ["ok", "failed"]}},
                {"result": {"$ref": "#/$defs/measurement"}, "reason": _STR},
            ),
        },
        # bench run --rate: the driver's own latency at each open-loop rate, against the
        # canned-response server.
        "driver_accuracy": {
            "type": "array",
            "items": _obj(
                {"test": _STR, "rate": _STR, "target_rps": _NUM, "connections": _INT,
                 "status": {"enum": ["ok", "failed"]}},
                {"result": {"$ref": "#/$defs/measurement"}, "reason": _STR},
            ),
        },
        "entries": {
            "type": "array",
            "items": _obj(
                {
                    "server": _STR,
                    "loop": _STR,
                    "parser": _STR,
                    "test": _STR,
                    "status": {"enum": ["ok", "failed", "unsupported"]},
                    "phase": {"type": ["string", "null"]},
                    "reason": _STR_OR_NULL,
                    "output": _STR_OR_NULL,
                    "server_version": _STR_OR_NULL,
                    "verification": {
                        "type": ["object", "null"],
                        "properties": {"passed": {"type": "boolean"},
                                       "checks": {"type": "array", "items": _CHECK}},
                        "required": ["passed", "checks"],
                    },
                    "levels": {
                        "type": "array",
                        "items": _obj({"concurrency": _INT, "pipeline": _INT,
                                       "repeats": {"type": "array",
                                                   "items": {"$ref": "#/$defs/repeat"}}},
                                      {"queries": {"type": "integer", "minimum": 1},
                                       "rate": _STR,
                                       "failures": {"type": "array", "items": _STR}}),
                    },
                },
                # bench run --workers: the server's worker processes (absent: unknown).
                {"workers": {"type": "integer", "minimum": 1}},
            ),
        },
        "ranking": {
            "type": "object",
            "additionalProperties": {
                "type": "array",
                "items": _obj({"rank": {"type": "integer", "minimum": 1}, "server": _STR,
                               "loop": _STR, "parser": _STR, "requests_per_s": _NUM,
                               "spread_pct": _NUM, "pct_of_best": _NUM, "p99_ms": _NUM,
                               "errors": _INT, "concurrency": _INT,
                               "client_bound": {"type": "boolean"}},
                              {"queries": {"type": "integer", "minimum": 1},
                               "workers": {"type": "integer", "minimum": 2}}),
            },
        },
        "composite": {
            "type": "array",
            "items": _obj({"rank": {"type": "integer", "minimum": 1}, "server": _STR,
                           "loop": _STR, "parser": _STR, "score": _NUM}),
        },
    },
    "$defs": {
        "latency": _LATENCY,
        "errors": _ERRORS,
        "measurement": _MEASUREMENT,
        "repeat": _REPEAT,
        "resources": _RESOURCES,
    },
}

_TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def _is_type(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _TYPES[name])


def errors(document: Any, schema: dict[str, Any] | None = None) -> list[str]:
    """Every violation as ``"<json path>: <problem>"`` (empty list: valid)."""
    root = SCHEMA if schema is None else schema
    found: list[str] = []
    _walk(document, root, root, "$", found)
    return found


def validate(document: Any) -> None:
    """Raise ValueError with the first few violations if ``document`` is not valid."""
    problems = errors(document)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ValueError("; ".join(problems[:3]) + more)


def _walk(value: Any, schema: dict[str, Any], root: dict[str, Any], path: str,
          found: list[str]) -> None:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        _walk(value, root["$defs"][name], root, path, found)
        return
    for part in schema.get("allOf", []):
        _walk(value, part, root, path, found)
    if "const" in schema and value != schema["const"]:
        found.append(f"{path}: must be {schema['const']!r}, not {value!r}")
        return
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{path}: {value!r} is not one of {schema['enum']}")
        return
    kinds = schema.get("type")
    if kinds is not None:
        names = kinds if isinstance(kinds, list) else [kinds]
        if not any(_is_type(value, name) for name in names):
            found.append(f"{path}: expected {' or '.join(names)}, got {type(value).__name__}")
            return
    if "minimum" in schema and _is_type(value, "number") and value < schema["minimum"]:
        found.append(f"{path}: {value} is below {schema['minimum']}")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                found.append(f"{path}: missing {key!r}")
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in props:
                _walk(item, props[key], root, f"{path}.{key}", found)
            elif extra is False:
                found.append(f"{path}: unexpected key {key!r}")
            elif isinstance(extra, dict):
                _walk(item, extra, root, f"{path}.{key}", found)
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            _walk(item, schema["items"], root, f"{path}[{index}]", found)


def dumps() -> str:
    return json.dumps(SCHEMA, indent=2) + "\n"


if __name__ == "__main__":
    sys.stdout.write(dumps())
