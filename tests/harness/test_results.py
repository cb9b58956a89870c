"""Results files: schema, validation, write/read, every unreadable-file error."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from asgibench.errors import BenchError
from asgibench.harness import environment, results, schema

ROOT = Path(__file__).resolve().parents[2]


def sample() -> dict[str, Any]:
    measurement = {
        "requests": 1000, "duration_s": 1.0, "requests_per_s": 1000.0,
        "latency_ms": {"p50": 1.0, "p75": 1.5, "p90": 2.0, "p99": 5.0, "max": 9.0,
                       "mean": 1.2, "stdev": 0.4},
        "errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0},
        "non_2xx": 0, "bad_body": 0, "checked": 1000,
    }
    return {
        "schema": results.SCHEMA_ID,
        "created": "2026-01-01T00:00:00Z",
        "asgibench_version": "0.1.0",
        "command": ["bench", "run"],
        "interrupted": False,
        "environment": environment.environment([0, 1]),
        "settings": {
            "profile": "quick", "driver": {"name": "python", "version": "x"},
            "tests": ["json"], "levels": {"json": [16]}, "pipeline": {"json": 1},
            "duration_s": 1.0, "warmup_s": 0.0, "primer_s": 0.0, "pause_s": 0.0,
            "repeat": 1, "timeout_s": 8.0, "host": "127.0.0.1", "port": 8080,
            "servers": ["asgibench"], "loops": ["uvloop"], "parsers": ["httptools"],
            "app": "asgibench.harness.app:app", "app_delay_ms": 0.0,
            "pinning": {"method": "none", "server_cpus": None, "driver_cpus": None,
                        "note": ""},
            "notes": [],
        },
        "ceiling": [{"test": "json", "concurrency": 16, "pipeline": 1, "status": "ok",
                     "result": measurement}],
        "entries": [{
            "server": "asgibench", "loop": "uvloop", "parser": "httptools", "test": "json",
            "status": "ok", "phase": None, "reason": None, "output": None,
            "server_version": "0.1.0",
            "verification": {"passed": True, "checks": [{"name": "status", "ok": True,
                                                         "detail": ""}]},
            "levels": [{"concurrency": 16, "pipeline": 1,
                        "repeats": [dict(measurement, round=1, client_bound=False)]}],
        }],
        "ranking": {"json": []},
        "composite": [],
    }


def test_sample_is_valid() -> None:
    assert schema.errors(sample()) == []


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda d: d.pop("entries"), "missing 'entries'"),
        (lambda d: d.__setitem__("schema", "asgibench.results/0"), "must be"),
        (lambda d: d["entries"][0].__setitem__("status", "great"), "is not one of"),
        (lambda d: d["entries"][0]["levels"][0]["repeats"][0].pop("round"), "missing 'round'"),
        (lambda d: d["entries"][0]["levels"][0]["repeats"][0]["latency_ms"].pop("p99"),
         "missing 'p99'"),
        (lambda d: d["settings"].__setitem__("repeat", 0), "below 1"),
        (lambda d: d["settings"].__setitem__("duration_s", "long"), "expected number"),
        (lambda d: d["entries"][0].__setitem__("levels", {}), "expected array"),
        (lambda d: d["settings"]["levels"].__setitem__("json", [True]), "expected integer"),
    ],
)
def test_validator_catches(mutate: Any, needle: str) -> None:
    document = sample()
    mutate(document)
    problems = schema.errors(document)
    assert any(needle in p for p in problems), problems


def test_jsonschema_agrees() -> None:
    validator = jsonschema.Draft202012Validator(schema.SCHEMA)
    assert list(validator.iter_errors(sample())) == []
    bad = sample()
    bad["entries"][0]["status"] = "great"
    assert list(validator.iter_errors(bad))


def test_shipped_schema_json_is_current() -> None:
    shipped = ROOT / "docs" / "results-schema.json"
    assert json.loads(shipped.read_text()) == json.loads(schema.dumps()), \
        "regenerate: python -m asgibench.harness.schema > docs/results-schema.json"


def test_write_then_read(tmp_path: Path) -> None:
    path = results.write(sample(), tmp_path / "deep" / "run.json")
    assert results.read(path) == json.loads(json.dumps(sample()))


def test_write_refuses_invalid(tmp_path: Path) -> None:
    document = sample()
    del document["settings"]
    with pytest.raises(ValueError):
        results.write(document, tmp_path / "x.json")


def test_output_path(tmp_path: Path) -> None:
    assert results.output_path(tmp_path / "a.json", "2026-01-01T00:00:00Z") == tmp_path / "a.json"
    chosen = results.output_path(tmp_path, "2026-01-01T00:00:00Z")
    assert chosen.parent == tmp_path and chosen.name.startswith("asgibench-20260101T000000")


def _read_error(path: Path) -> str:
    with pytest.raises(BenchError) as info:
        results.read(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_read_missing(tmp_path: Path) -> None:
    assert "does not exist" in _read_error(tmp_path / "nope.json")


def test_read_directory(tmp_path: Path) -> None:
    assert "is a directory" in _read_error(tmp_path)


def test_read_not_json(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("{not json")
    assert "not valid JSON" in _read_error(path)


def test_read_binary(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    assert "cannot read" in _read_error(path) or "not valid JSON" in _read_error(path)


def test_read_not_results(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"hello": 1}')
    assert "not an asgibench results file" in _read_error(path)


def test_read_other_version(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    document = sample()
    document["schema"] = "asgibench.results/99"
    path.write_text(json.dumps(document))
    message = _read_error(path)
    assert "asgibench.results/99" in message and results.SCHEMA_ID in message


def test_read_invalid(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    document = copy.deepcopy(sample())
    document["entries"][0]["status"] = "great"
    path.write_text(json.dumps(document))
    assert "is invalid" in _read_error(path)


def test_unreadable_permissions(tmp_path: Path) -> None:
    import os

    if os.name != "posix":
        pytest.skip("Windows has no POSIX permission bits: chmod(0) leaves a file readable")
    if os.geteuid() == 0:
        pytest.skip("root reads anything; needs a non-root user")
    path = tmp_path / "x.json"
    path.write_text("{}")
    path.chmod(0)
    assert "cannot read" in _read_error(path)


def test_check_writable(tmp_path: Path) -> None:
    results.check_writable(tmp_path / "new" / "dir")
    results.check_writable(tmp_path / "file.json")
    (tmp_path / "afile").write_text("")
    with pytest.raises(BenchError, match="is a file, not a directory"):
        results.check_writable(tmp_path / "afile")
    (tmp_path / "d.json").mkdir()
    with pytest.raises(BenchError, match="is a directory"):
        results.check_writable(tmp_path / "d.json")
    # A suffix that is not .json is a mistake, not a directory to create ...
    with pytest.raises(BenchError, match=r"neither a \.json file nor a directory"):
        results.check_writable(tmp_path / "out.txt")
    assert not (tmp_path / "out.txt").exists()
    # ... unless the user made that directory.
    (tmp_path / "runs.v2").mkdir()
    results.check_writable(tmp_path / "runs.v2")
    # A trailing separator says directory, whatever the name looks like.
    results.check_writable(f"{tmp_path}/v1.2/")
    assert results.output_path(f"{tmp_path}/v1.2/", "2026-12-01T00:00:00Z").parent == \
        tmp_path / "v1.2"
    # Where only a FILE.json makes sense (bench cost/memory), a directory is refused.
    with pytest.raises(BenchError, match=r"is not a \.json file"):
        results.check_writable(tmp_path / "new", directory_ok=False)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="no /proc on this platform")
def test_check_writable_probes_rather_than_trusting_permissions() -> None:
    # root passes os.access(W_OK) on /proc, where no file can be created.
    with pytest.raises(BenchError, match="cannot create files in '/proc'"):
        results.check_writable("/proc/x.json")


def test_a_run_that_cannot_be_written_is_kept(tmp_path: Path) -> None:
    sample_run = results.Run.from_dict(sample())
    target = tmp_path / "gone" / "run.json"
    (tmp_path / "gone").write_text("a file where the directory should be")
    written, failure = results.write_or_keep(target, lambda p: results.write(sample_run, p))
    assert failure and "cannot write results file" in failure
    assert written != target and written.name == "run.json"
    assert results.load(written).entries  # the measured run survived


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "run.json"
    target.mkdir()  # a directory where the file goes: the final rename fails
    (target / "keep").write_text("")
    with pytest.raises(BenchError, match="cannot write results file"):
        results.write(results.Run.from_dict(sample()), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


def test_a_checkpoint_that_fails_is_noted_once_and_the_run_goes_on(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from asgibench.cli.run import _Checkpoint

    broken = results.Run.from_dict(sample())
    broken.interrupted = "maybe"  # type: ignore[assignment]  # the schema refuses it: a
    # ValueError, not a BenchError
    checkpoint = _Checkpoint(tmp_path / "run.json")
    checkpoint(broken)
    checkpoint(broken)
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "the results so far could not be written" in line
    assert not list(tmp_path.iterdir())


def test_environment_records_versions() -> None:
    env = environment.environment([0])
    for name in ("uvloop", "httptools", "h11", "asgibench"):
        assert name in env["packages"]
    assert env["python"]["version"]
    assert "commit" in env["git"]
