"""`parity gate`: exit codes, the artifact, and the artifact against the JSON Schema that
docs/gate.md documents (extracted from the doc; validated with `jsonschema` when it is
installed, and always with the small validator below, which knows every keyword the
schema uses)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from parity.triage import ResultsDB
from tests.procs import BIN, ROOT
from tests.test_triage_verdicts import cli, fid, make_run

GATE_DOC = ROOT / "docs" / "gate.md"

# -- the schema, from the doc -------------------------------------------------------------


def documented_schema() -> dict[str, Any]:
    """The ```json block of docs/gate.md that is a JSON Schema."""
    blocks = re.findall(r"```json\n(.*?)\n```", GATE_DOC.read_text(encoding="utf-8"), re.S)
    schemas = [json.loads(b) for b in blocks if '"$schema"' in b]
    assert len(schemas) == 1, "docs/gate.md must hold exactly one JSON Schema block"
    schema: dict[str, Any] = schemas[0]
    return schema


KNOWN = {
    "$schema",
    "$id",
    "title",
    "$defs",
    "$ref",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "anyOf",
    "minimum",
    "maximum",
    "pattern",
}
_TYPES: dict[str, Any] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
}


def _same(a: Any, b: Any) -> bool:
    """JSON equality: `true` is not `1`."""
    both_numbers = bool(_TYPES["number"](a) and _TYPES["number"](b))
    return bool((type(a) is type(b) or both_numbers) and a == b)


def check(value: Any, schema: dict[str, Any], root: dict[str, Any], where: str = "$") -> list[str]:
    """Errors of `value` against `schema` (the subset of JSON Schema 2020-12 in KNOWN)."""
    unknown = set(schema) - KNOWN
    assert not unknown, f"the validator does not know {unknown} (at {where})"
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        return check(value, root["$defs"][name], root, where)
    errors: list[str] = []
    if "anyOf" in schema and all(check(value, o, root, where) for o in schema["anyOf"]):
        errors.append(f"{where}: matches none of anyOf")
    if "const" in schema and not _same(value, schema["const"]):
        errors.append(f"{where}: {value!r} is not {schema['const']!r}")
    if "enum" in schema and not any(_same(value, option) for option in schema["enum"]):
        errors.append(f"{where}: {value!r} not in {schema['enum']}")
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[t](value) for t in types):
            return [*errors, f"{where}: {value!r} is not of type {types}"]
    if _TYPES["number"](value):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: {value} > {schema['maximum']}")
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{where}: {key!r} is missing")
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key in properties:
                errors.extend(check(item, properties[key], root, f"{where}.{key}"))
            elif schema.get("additionalProperties") is False:
                errors.append(f"{where}: {key!r} is not allowed")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            errors.extend(check(item, schema["items"], root, f"{where}[{index}]"))
    return errors


def validate_artifact(data: dict[str, Any]) -> None:
    """Fail unless `data` is valid against docs/gate.md's schema (both validators)."""
    schema = documented_schema()
    errors = check(data, schema, schema)
    assert not errors, "\n".join(errors)
    try:
        import jsonschema  # not a dependency: used when installed
    except ImportError:
        return
    jsonschema.Draft202012Validator(schema).validate(data)


def test_the_validator_catches_what_the_schema_forbids() -> None:
    schema = documented_schema()
    assert schema["properties"]["schema"] == {"const": "parity-gate/3"}
    good = {"max_open": 0, "max_errors": 2, "serialization_gated": False, "allow_torn": False}
    thresholds = schema["properties"]["thresholds"]
    assert check(good, thresholds, schema) == []
    missing = {"max_open": 0, "serialization_gated": True, "allow_torn": False}
    assert check(missing, thresholds, schema) == ["$: 'max_errors' is missing"]
    assert check({**good, "x": 1}, thresholds, schema) == ["$: 'x' is not allowed"]
    assert check({**good, "max_open": True}, thresholds, schema)  # a bool is not an int
    assert check({**good, "max_open": -1}, thresholds, schema) == ["$.max_open: -1 < 0"]
    state = schema["$defs"]["finding"]["properties"]["state"]
    assert check("gone", state, schema) and not check("regressed", state, schema)
    time = {"$ref": "#/$defs/time"}
    assert not check("2026-02-23T20:19:14Z", time, schema)
    assert check("2026-02-23 20:19:14", time, schema)
    finished = schema["$defs"]["run"]["properties"]["finished_at"]
    assert not check(None, finished, schema) and check(1.5, finished, schema)


# -- running the gate ---------------------------------------------------------------------


def gate(db_path: Path, out: Path, *args: str) -> tuple[Result, dict[str, Any] | None]:
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        cli, ["gate", "--db", str(db_path), "--out", str(out), *args]
    )
    data = json.loads(out.read_text(encoding="utf-8")) if out.exists() else None
    if data is not None:
        validate_artifact(data)
    return result, data


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "parity.db"


def test_a_run_with_open_findings_fails_and_says_why(db_path: Path, tmp_path: Path) -> None:
    with ResultsDB(db_path) as db:
        r1 = make_run(db, {"aaaa0001": 2, "bbbb0002": 1}, at=1000.0, label="nightly")
        r2 = make_run(db, {"aaaa0001": 3, "cccc0003": 1, "eeee0005": 1}, at=2000.0)
        db.mark(fid("eeee0005"), "noise", note="took_ms")
        db.mark(fid("aaaa0001"), "bug", note="400 for 404")
    out = tmp_path / "logs" / "gate.json"
    result, data = gate(db_path, out)
    assert result.exit_code == 1, result.output
    assert data is not None
    assert data["schema"] == "parity-gate/3"
    assert data["passed"] is False and data["exit_code"] == 1
    assert data["reasons"] == ["2 open findings (on 4 exchanges); at most 0 allowed"]
    assert data["run"]["id"] == r2 and data["previous_run"]["id"] == r1
    assert data["previous_run"]["label"] == "nightly"
    assert data["run"]["started_at"] == "1970-01-01T00:33:20Z"
    assert data["thresholds"] == {
        "max_open": 0,
        "max_errors": 0,
        "serialization_gated": False,
        "allow_torn": False,
    }
    assert data["damaged_sessions"] == []
    assert data["totals"] == {
        "exchanges": 6,
        "matched": 1,
        "mismatched": 5,
        "errors": 0,
        "noise_suppressed": 0,
        "parity": 16.66,
        "findings": 3,
        "open": 2,
        "open_mismatches": 4,
        "accepted": 1,
        "serialization": 0,
        "new": 2,
        "regressed": 0,
        "fixed": 1,
    }
    assert [(s["id"], s["state"], s["count"], s["verdict"]) for s in data["open"]] == [
        (fid("aaaa0001"), "recurring", 3, "bug"),
        (fid("cccc0003"), "new", 1, None),
    ]
    assert data["open"][0]["note"] == "400 for 404" and data["open"][1]["note"] is None
    assert data["open"][0]["example"]["difference"] == "$.value_aaaa0001 changed: 1 -> 2"
    assert data["open"][0]["title"] == "$.value_aaaa0001 changed (number)"
    assert data["open"][0]["routes"] == ["GET /api/aaaa0001"]
    assert data["open"][0]["example"]["url"] == "/api/aaaa0001?n=1"
    assert [(s["id"], s["verdict"], s["note"]) for s in data["accepted"]] == [
        (fid("eeee0005"), "noise", "took_ms")
    ]
    (fixed,) = data["fixed"]
    assert (fixed["id"], fixed["count"], fixed["previous_count"]) == (fid("bbbb0002"), 0, 1)
    assert fixed["example"]["run"] == r1
    assert data["regressed"] == [] and data["errors"] == []
    # The terminal summary.
    assert "parity gate: FAILED" in result.output
    assert "✗ 2 open findings (on 4 exchanges); at most 0 allowed" in result.output
    assert f"since run {r1}: 1 fixed, 0 regressed, 2 new" in result.output
    assert f"artifact: {out}" in result.output


def test_thresholds_and_accepting_make_it_pass(db_path: Path, tmp_path: Path) -> None:
    with ResultsDB(db_path) as db:
        make_run(db, {"aaaa0001": 1, "bbbb0002": 1}, at=1000.0)
    out = tmp_path / "gate.json"
    result, data = gate(db_path, out, "--max-open", "2")
    assert result.exit_code == 0, result.output
    assert data is not None and data["passed"] is True and data["reasons"] == []
    assert data["thresholds"]["max_open"] == 2 and data["previous_run"] is None
    assert "parity gate: PASSED" in result.output
    result, data = gate(db_path, out, "--max-open", "1")
    assert result.exit_code == 1
    with ResultsDB(db_path) as db:
        db.mark(fid("aaaa0001"), "expected")
        db.mark(fid("bbbb0002"), "noise")
    result, data = gate(db_path, out)
    assert result.exit_code == 0
    assert data is not None and data["totals"]["open"] == 0 and data["totals"]["accepted"] == 2


def test_errors_fail_the_gate_and_are_listed_masked(db_path: Path, tmp_path: Path) -> None:
    with ResultsDB(db_path) as db:
        make_run(
            db,
            {},
            at=1000.0,
            errors=[
                "timed out",
                "cannot connect to http://ci:hunter2@10.0.0.5:5001/?token=tok-s3cr3t-value",
                "timed out",
            ],
            target="http://ci:hunter2@10.0.0.5:5001/base?api_key=k3y&page=2",
        )
    out = tmp_path / "gate.json"
    result, data = gate(db_path, out)
    assert result.exit_code == 1
    assert data is not None
    assert data["reasons"] == ["3 exchanges errored (the target did not answer); at most 0 allowed"]
    assert [(e["reason"], e["count"]) for e in data["errors"]] == [
        ("timed out", 2),
        ("cannot connect to http://ci:***@10.0.0.5:5001/?token=***", 1),
    ]
    assert data["errors"][0]["example"]["url"] == "/api/vaults"
    assert data["run"]["target"] == "http://ci:***@10.0.0.5:5001/base?api_key=***&page=2"
    text = out.read_text(encoding="utf-8")
    assert "hunter2" not in text and "k3y" not in text and "tok-s3cr3t-value" not in text
    result, data = gate(db_path, out, "--max-errors", "3")
    assert result.exit_code == 0 and data is not None and data["thresholds"]["max_errors"] == 3


def test_an_unfinished_or_empty_run_fails(db_path: Path, tmp_path: Path) -> None:
    with ResultsDB(db_path) as db:
        done = make_run(db, {}, at=1000.0, matched_count=0)
        running = make_run(db, {}, at=2000.0, finished=False)
    out = tmp_path / "gate.json"
    result, data = gate(db_path, out)
    assert result.exit_code == 1 and data is not None
    assert data["reasons"] == [
        f"run {running} did not finish (killed, or still running): "
        f"`parity replay --resume {running}` finishes it"
    ]
    assert data["run"]["finished_at"] is None
    result, data = gate(db_path, out, done)
    assert result.exit_code == 1 and data is not None
    assert data["reasons"] == [f"run {done} replayed no exchanges"]


def test_the_artifact_is_ascii_json_in_the_documented_key_order(
    db_path: Path, tmp_path: Path
) -> None:
    with ResultsDB(db_path) as db:
        make_run(db, {"aaaa0001": 1}, at=1000.0, label="café ☕")
        db.mark(fid("aaaa0001"), "bug", note="Zürich: password=hunter2")
    out = tmp_path / "gate.json"
    _, data = gate(db_path, out)
    assert data is not None
    raw = out.read_bytes()
    assert raw.isascii() and raw.endswith(b"}\n") and b"\r" not in raw
    assert data["run"]["label"] == "café ☕"
    assert data["open"][0]["note"] == "Zürich: password=***"
    schema = documented_schema()
    assert list(data) == schema["required"]
    assert list(data["run"]) == schema["$defs"]["run"]["required"]
    assert list(data["totals"]) == schema["properties"]["totals"]["required"]
    assert list(data["open"][0]) == schema["$defs"]["finding"]["required"]
    # --json prints exactly what it wrote.
    printed = CliRunner().invoke(cli, ["gate", "--db", str(db_path), "--out", str(out), "--json"])
    assert printed.exit_code == 1
    again = json.loads(printed.output)
    assert again == {**data, "generated_at": again["generated_at"]}


def test_the_default_artifact_is_where_the_runbook_expects_it(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ResultsDB(db_path) as db:
        make_run(db, {}, at=1000.0)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["gate", "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    artifact = tmp_path / "logs" / "parity_harness_results.json"
    validate_artifact(json.loads(artifact.read_text(encoding="utf-8")))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--db", "{missing}"], "parity: error: no results database at "),
        (["ffffffff"], "parity: error: no run 'ffffffff' in "),
        (["--max-open", "-1"], "parity: error: --max-open takes a whole number, 0 or more, not -1"),
        (
            ["--max-errors", "many"],
            "parity: error: --max-errors takes a whole number, 0 or more, not 'many'",
        ),
        (["--out", "{blocked}/gate.json"], "parity: error: cannot write the gate artifact "),
    ],
)
def test_usage_errors_exit_2_and_leave_no_stale_artifact(
    db_path: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    with ResultsDB(db_path) as db:
        make_run(db, {}, at=1000.0)
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    out = tmp_path / "gate.json"
    out.write_text('{"schema": "parity-gate/1", "passed": true}')  # an earlier pass
    filled = ["--db", str(db_path), "--out", str(out)]
    filled += [a.format(missing=tmp_path / "none.db", blocked=blocked) for a in args]
    result = CliRunner().invoke(cli, ["gate", *filled])
    assert result.exit_code == 2
    assert result.output.startswith(message), result.output
    assert result.output.count("\n") == 1
    if "--out" not in args:
        assert not out.exists()


def test_parity_gate_as_a_real_process(db_path: Path, tmp_path: Path) -> None:
    """Through the installed `parity` entry point, as migration-gate.ps1 calls it."""
    with ResultsDB(db_path) as db:
        make_run(db, {"aaaa0001": 1}, at=1000.0)
    out = tmp_path / "logs" / "parity_harness_results.json"
    args = [str(BIN / "parity"), "gate", "--db", str(db_path), "--out", str(out)]
    failed = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert "No such command" not in failed.stderr, "register parity.gate_cmd.gate in parity.cli"
    assert failed.returncode == 1, failed.stderr
    validate_artifact(json.loads(out.read_text(encoding="utf-8")))
    with ResultsDB(db_path) as db:
        db.mark(fid("aaaa0001"), "expected")
    passed = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert passed.returncode == 0, passed.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["passed"] is True
    usage = subprocess.run([*args, "--max-open", "-1"], capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2 and not out.exists()
    assert usage.stderr.startswith("parity: error: --max-open")


def test_thresholds_and_artifact_path_come_from_parity_toml(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ResultsDB(db_path) as db:
        make_run(db, {"aaaa0001": 1, "bbbb0002": 1}, at=1000.0)
    (tmp_path / "parity.toml").write_text('[gate]\nmax_open = 2\nout = "gate/artifact.json"\n')
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["gate", "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "gate" / "artifact.json").read_text(encoding="utf-8"))
    validate_artifact(data)
    assert data["thresholds"]["max_open"] == 2
    result = CliRunner().invoke(cli, ["gate", "--db", str(db_path), "--max-open", "1"])
    assert result.exit_code == 1  # the option wins over the file


def _wire_only_run(db_path: Path, rules_path: Path | None) -> str:
    """A finished run whose one exchange matched but for a serialization difference."""
    from parity.differ.model import Difference, DiffKind, HttpResponse, Outcome, Verdict, Where
    from parity.triage import ExchangeResult, RunInfo

    route = "GET /api/numbers"
    wire = Difference(Where.BODY, "$.total", DiffKind.CHANGED, "1.0", "1")
    with ResultsDB(db_path) as db:
        run_id = db.start_run(
            RunInfo(
                target="http://127.0.0.1:5001",
                sessions=["s1"],
                started_at=1000.0,
                rules_path=None if rules_path is None else str(rules_path),
            )
        )
        with db.writer(run_id) as w:
            w.add(
                ExchangeResult(
                    session="s1",
                    seq=1,
                    method="GET",
                    url="/api/numbers",
                    route=route,
                    verdict=Verdict(Outcome.MATCHED, route, serialization=[wire]),
                    expected=HttpResponse(200, [], b'{"total": 1.0}'),
                    actual=HttpResponse(200, [], b'{"total": 1}'),
                )
            )
        db.finish_run(run_id, finished_at=1001.0)
    return run_id


@pytest.mark.parametrize(
    ("rules", "gated"),
    [
        (None, False),  # the run used no rules file
        ("[serialization]\ngate = false\n", False),
        ("[serialization]\ngate = true\n", True),
        ("[serialization\ngate = true\n", False),  # does not parse: not gated
    ],
)
def test_serialization_findings_count_only_when_the_runs_rules_say_so(
    db_path: Path, tmp_path: Path, rules: str | None, gated: bool
) -> None:
    rules_path = None
    if rules is not None:
        rules_path = tmp_path / "parity-rules.toml"
        rules_path.write_text(rules, encoding="utf-8")
    _wire_only_run(db_path, rules_path)
    out = tmp_path / "gate.json"
    result, data = gate(db_path, out)
    assert data is not None
    assert data["thresholds"]["serialization_gated"] is gated
    listed = data["open"] if gated else data["serialization"]
    assert [f["category"] for f in listed] == ["serialization"]
    assert (data["totals"]["open"], data["totals"]["serialization"]) == (
        (1, 0) if gated else (0, 1)
    )
    assert result.exit_code == (1 if gated else 0), result.output


def test_the_gate_line_on_serialization_findings_keeps_its_rules_key() -> None:
    """Rich markup took `[serialization]` for a tag and printed "` gate = true`"."""
    from rich.console import Console

    from parity.triage import render

    out = Console(record=True, width=200)
    data: dict[str, object] = {
        "run": {"id": "r1", "label": ""},
        "passed": True,
        "reasons": [],
        "totals": {
            "exchanges": 3,
            "parity": 1.0,
            "open": 0,
            "accepted": 0,
            "errors": 0,
            "serialization": 2,
        },
        "thresholds": {"max_open": 0, "max_errors": 0},
        "previous_run": None,
        "open": [],
        "regressed": [],
        "fixed": [],
    }
    render.gate(out, data, "logs/x.json")
    assert "(`[serialization] gate = true` in the rules counts them)" in out.export_text()
