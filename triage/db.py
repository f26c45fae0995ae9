"""The results database: one SQLite file (sqlite-utils), owner-only, WAL mode.

    db = ResultsDB(path)                       # creates the file (0600) and its directory
    run_id = db.start_run(RunInfo(...))
    with db.writer(run_id) as w:
        w.add(ExchangeResult(...))             # buffered; one transaction per batch
    db.finish_run(run_id)

A batch (the results, mismatches and signatures of up to `batch_size` exchanges, and the
run's counters) is written in one transaction: after a crash the database holds whole
batches only. Leaving the `with` block, normally or by an exception, writes what is
buffered: every added exchange was replayed and judged, and a resumed run needs them.

One `ResultsDB` belongs to one thread (sqlite3's default check applies).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlite_utils import Database

from parity.differ.findings import FindingKey, finding_id, finding_keys, grouped
from parity.differ.model import Outcome
from parity.differ.noise import LearnedNoise, NoiseObservations, NoisePolicy
from parity.differ.signature import shape_of, signature_of
from parity.sessions.crypto import KeySource
from parity.sessions.private import create_private, private_dir
from parity.triage import bodies, findings, metadata, noise, resume, schema, verdicts
from parity.triage.errors import NoDatabase, NotFound, NotResultsDB, TriageError
from parity.triage.masking import mask_difference, mask_headers, mask_text
from parity.triage.model import ExchangeResult, RunInfo
from parity.triage.text import describe_difference, dumps, storable

BATCH_SIZE = 1000
FLUSH_INTERVAL = 2.0
"""Seconds: a writer that buffered rows longer than this writes them on the next `add`,
so `parity report` sees a slow soak run's progress."""

_RESULT_COLUMNS = (
    "run_id",
    "session",
    "seq",
    "method",
    "url",
    "route",
    "outcome",
    "signature",
    "mismatch_id",
    "expected_status",
    "actual_status",
    "baseline_status",
    "expected_ms",
    "actual_ms",
    "differences",
    "noise",
    "error",
    "serialization",
)
_MISMATCH_COLUMNS = (
    "id",
    "run_id",
    "session",
    "seq",
    "method",
    "url",
    "route",
    "outcome",
    "signature",
    "error",
    "expected_status",
    "actual_status",
    "baseline_status",
    "expected_ms",
    "actual_ms",
    "first_difference",
    "differences",
    "noise",
    "rules_applied",
    "request_headers",
    "expected_headers",
    "actual_headers",
    "expected_rendered",
    "actual_rendered",
    "request_body",
    "expected_body",
    "actual_body",
    "sent",
    "ambiguous_ids",
    "serialization",
    "request_body_ref",
    "expected_body_ref",
    "actual_body_ref",
)


def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


_INSERT_RESULT = _insert_sql("results", _RESULT_COLUMNS)
_INSERT_MISMATCH = _insert_sql("mismatches", _MISMATCH_COLUMNS)
_UPSERT_SIGNATURE = (
    "INSERT INTO signatures (id, route, kinds, paths, first_seen_run, last_seen_run) "
    "VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(id) DO UPDATE SET last_seen_run = excluded.last_seen_run"
)
_MISMATCH_ID_INDEX = _MISMATCH_COLUMNS.index("id")
_MATCHED, _MISMATCHED, _ERROR = "matched", "mismatched", "error"
_OUTCOMES: dict[str, str] = {str(o.value): str(o.value) for o in Outcome}
"""Outcome (or its text) -> plain text, for sqlite3 and fast comparisons."""
_COUNT_SLOT = {_MATCHED: 1, _MISMATCHED: 2, _ERROR: 3}


def random_id() -> str:
    """A new run or mismatch id: 8 hex digits (callers make it unique)."""
    return secrets.token_hex(4)


class ResultsDB:
    """The results database at `path`.

    With `create=True` (the replayer) a missing file is created owner-only, with its
    directory; with `create=False` (report, show, runs) a missing file is `NoDatabase`.
    Either way a file that is not parity's results database is `NotResultsDB`, and an
    older schema is migrated.
    """

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = Path(path)
        self.body_keys: KeySource | None = None
        """Set: mismatch bodies written from now on are encrypted with a key from it."""
        self.sealer: bodies.Sealer | None = None
        """Set with `body_keys`: seals the content columns written from now on."""
        if not self.path.exists():
            if not create:
                raise NoDatabase(self.path)
            try:
                private_dir(self.path.parent)
                os.close(create_private(self.path))
            except FileExistsError:
                pass  # created by another process meanwhile: opened and checked below
            except OSError as exc:
                raise TriageError(
                    f"cannot create {self.path}: {exc.strerror}", path=self.path
                ) from None
        elif self.path.is_dir():
            raise NotResultsDB(
                f"{self.path} is a directory, not a results database", path=self.path
            )
        try:
            self.db = Database(self.path, execute_plugins=False)
        except sqlite3.Error as exc:
            raise NotResultsDB(f"cannot open {self.path}: {exc}", path=self.path) from None
        try:
            self._check_and_migrate(create)
            self.db.execute("PRAGMA synchronous = NORMAL")
            if bodies.SealedText.needed(self.db.conn):  # may hold sealed values: opened
                bodies.SealedText.install(self.db.conn)
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise NotResultsDB(
                f"{self.path} is not a parity results database ({exc})", path=self.path
            ) from None
        except TriageError:
            self.db.close()
            raise

    def encrypt_bodies(self, keys: KeySource | None) -> None:
        """Encrypt the mismatch bodies written from now on with a key from `keys`; the
        key is derived now, so a missing or wrong one is a `TriageError` before any
        result is stored."""
        with self.db.atomic():
            sealed = bodies.SealedText.install(self.db.conn, keys)
            key = sealed.key()
        self.body_keys = keys
        self.sealer = key.seal_text

    def encrypted(self) -> bool:
        """Whether the database encrypts what it stores (it has a bodies key): every run
        written into it then does, whatever its sessions were."""
        return bodies.SealedText.needed(self.db.conn)

    def sealed(self, text: str | None) -> str | None:
        """`text` as a content column stores it: sealed when the database encrypts
        (`encrypt_bodies`); None, `""` and `[]` (no content; compared in SQL) as they are."""
        if self.sealer is None or text is None or text in ("", "[]"):
            return text
        return self.sealer(text)

    # -- lifecycle -------------------------------------------------------------------

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ResultsDB:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _pragma(self, name: str) -> int:
        row = self.db.conn.execute(f"PRAGMA {name}").fetchone()
        return int(row[0])

    def _check_and_migrate(self, create: bool) -> None:
        app_id = self._pragma("application_id")
        version = self._pragma("user_version")
        if app_id != schema.APPLICATION_ID:
            empty = app_id == 0 and version == 0 and not self.db.table_names()
            if not (create and empty):
                raise NotResultsDB(f"{self.path} is not a parity results database", path=self.path)
        if version > schema.LATEST:
            raise NotResultsDB(
                f"{self.path} was written by a newer parity "
                f"(results schema v{version}; this one knows up to v{schema.LATEST})",
                path=self.path,
            )
        if version == schema.LATEST:
            return
        if version == 0:
            self.db.enable_wal()
        for number in range(version, schema.LATEST):
            with self.db.atomic():
                schema.MIGRATIONS[number](self.db)
                self.db.execute(f"PRAGMA application_id = {schema.APPLICATION_ID}")
                self.db.execute(f"PRAGMA user_version = {number + 1}")
        with contextlib.suppress(OSError):  # a convenience for Datasette: never a failure
            metadata.write_metadata(self.path, self.db.conn)

    @property
    def schema_version(self) -> int:
        return self._pragma("user_version")

    # -- runs --------------------------------------------------------------------------

    @contextmanager
    def _writing(self, what: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise TriageError(f"cannot {what} in {self.path}: {exc}", path=self.path) from exc

    def _new_id(self, table: str) -> str:
        while True:
            candidate = random_id()
            found = self.db.execute(f"SELECT 1 FROM {table} WHERE id = ?", [candidate])
            if found.fetchone() is None:
                return candidate

    def start_run(self, info: RunInfo) -> str:
        """Record a new run; returns its id (8 hex digits)."""
        run_id = self._new_id("runs")
        with self._writing("start a run"), self.db.atomic():
            self.db.table("runs").insert(
                {
                    "id": run_id,
                    "label": info.label,
                    "target": info.target,
                    "baseline": info.baseline,
                    "sessions": dumps(list(info.sessions)),
                    "rules_path": info.rules_path,
                    "started_at": info.started_at,
                    "finished_at": None,
                    "meta": dumps(info.meta),
                }
            )
        return run_id

    def finish_run(self, run_id: str, finished_at: float | None = None) -> None:
        """Mark a run finished (now, unless `finished_at` says when)."""
        when = time.time() if finished_at is None else finished_at
        with self._writing("finish the run"), self.db.atomic():
            cursor = self.db.execute("UPDATE runs SET finished_at = ? WHERE id = ?", [when, run_id])
            if cursor.rowcount == 0:
                raise NotFound(f"no run {run_id!r} in {self.path}", path=self.path)
            findings.group_run(self.db, run_id, self.sealer)

    def interrupt_run(self, run_id: str, at: float | None = None) -> None:
        """Mark an unfinished run interrupted (Ctrl-C): `parity runs` says so, `parity
        gate` fails it, `parity replay --resume` takes it up (`triage.resume`)."""
        resume.interrupt_run(self, run_id, time.time() if at is None else at)

    def resumable_run(self, ref: str | None = None) -> dict[str, Any]:
        """The run to resume: `ref` (an id or unique prefix) or the newest unfinished
        one, its `meta` decoded; a finished run is a `TriageError`."""
        return resume.resumable_run(self, ref)

    def reopen_run(self, run_id: str) -> resume.Reopened:
        """Delete what the run's unfinished sessions stored, recount its totals and
        clear its interruption, in one transaction; what its finished sessions stored."""
        return resume.reopen_run(self, run_id)

    def group_findings(self, run_id: str) -> int:
        """Apply the cross-route rule to the run's findings now (`finish_run` does it);
        returns how many exchange links moved to cross-route findings."""
        with self._writing("group findings"):
            return findings.group_run(self.db, run_id, self.sealer)

    def writer(
        self,
        run_id: str,
        *,
        batch_size: int = BATCH_SIZE,
        flush_interval: float = FLUSH_INTERVAL,
    ) -> ResultWriter:
        """A context manager that buffers `ExchangeResult`s and writes them in batches."""
        found = self.db.execute("SELECT 1 FROM runs WHERE id = ?", [run_id]).fetchone()
        if found is None:
            raise NotFound(f"no run {run_id!r} in {self.path}", path=self.path)
        return ResultWriter(self, run_id, batch_size=batch_size, flush_interval=flush_interval)

    # -- learned noise (see triage.noise) -----------------------------------------------

    def add_noise(self, run_id: str, observed: NoiseObservations) -> None:
        """Add what run `run_id` saw against its baseline(s), in one transaction.

        `observed.route_observations`: per route, the exchanges compared against a
        baseline; `disagreements`: per (route, where, templated path), how many of them
        disagreed there; `kinds`: the difference kinds seen there; `examples`: one
        (expected, baseline) pair there, stored masked and cut to 120 characters. Counts
        add up across runs (upserts); kinds are merged; the first example stored is kept.
        Keys of `kinds` and `examples` that are not in `disagreements` are ignored.
        """
        noise.add_noise(
            self,
            run_id,
            observed.route_observations,
            observed.disagreements,
            observed.kinds,
            observed.examples,
        )

    def learned_noise(self, policy: NoisePolicy | None = None) -> LearnedNoise:
        """Everything learned so far, for the differ (`NoisePolicy()` by default)."""
        return noise.learned_noise(self, policy)

    def noise_rows(
        self, route_glob: str | None = None, path: str | None = None
    ) -> list[dict[str, Any]]:
        """What was learned, most frequent first: `{"route", "where", "path",
        "disagreements", "observations", "rate" (percent), "kinds", "example":
        {"expected", "baseline"}, "first_run", "last_run"}`.

        `route_glob` is a GLOB (`*`, `?`, `[...]`, case-sensitive) matched against the
        whole route (`GET /api/vaults/*`) or its path alone (`/api/vaults/*`); `path`
        keeps one place: `$.took_ms`, a header name, `header etag` or `status`."""
        return noise.noise_rows(self, route_glob, path)

    def forget_noise(self, route_glob: str | None = None, path: str | None = None) -> int:
        """Delete learned noise matching `route_glob` and `path` (as in `noise_rows`;
        None: everything); returns how many entries were deleted. Forgetting every path
        of a route (no `path`) also resets its observations."""
        return noise.forget_noise(self, route_glob, path)

    def note_learned_noise(self, run_id: str, policy: NoisePolicy, settled: int) -> None:
        """Keep with the run the noise policy it applied and how many suspect differences
        learned noise settled as noise (`runs.meta["learned_noise"]`); the report says
        so. Call it again to replace the figure."""
        noise.note_learned_noise(self, run_id, policy, settled)

    def update_run_meta(self, run_id: str, values: Mapping[str, Any]) -> None:
        """Merge `values` into the run's `meta` JSON (top-level keys replaced)."""
        noise.update_run_meta(self, run_id, values)

    # -- verdicts (see triage.verdicts) -------------------------------------------------

    def mark(
        self,
        finding: str,
        verdict: str,
        *,
        note: str | None = None,
        by: str | None = None,
        run_id: str | None = None,
    ) -> dict[str, Any]:
        """Give `finding` (an exact id) the verdict `bug`, `expected` or `noise`; it
        applies to every run. `note=None` keeps the current note, `""` clears it; `by`
        defaults to the OS user; `run_id` is the run looked at when deciding, if any.
        Returns the stored verdict with the one it replaced (`previous`)."""
        return verdicts.mark(self, finding, verdict, note=note, by=by, run_id=run_id)

    def verdicts(self) -> dict[str, dict[str, Any]]:
        """Every current verdict, by finding id (rows of `verdicts`)."""
        return verdicts.finding_verdicts(self)

    def verdict_history(self, finding: str) -> list[dict[str, Any]]:
        """Every verdict `finding` was given, oldest first."""
        return verdicts.history(self, finding)

    # -- reading (see triage.queries) --------------------------------------------------

    def query(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        return list(self.db.query(sql, params))


STORED_BODIES_CACHE = 50_000
"""Keys of large bodies a writer remembers as stored (a cache in front of a lookup: a
run's memory does not grow with its distinct bodies)."""


class ResultWriter:
    """Buffers rows and writes each batch in one transaction (see the module doc)."""

    def __init__(
        self, results_db: ResultsDB, run_id: str, *, batch_size: int, flush_interval: float
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._rdb = results_db
        self.run_id = run_id
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.written = 0
        """Exchanges stored so far by this writer."""
        self._results: list[tuple[Any, ...]] = []
        self._mismatches: list[list[Any]] = []
        self._signatures: dict[str, tuple[Any, ...]] = {}
        self._findings: dict[str, tuple[Any, ...]] = {}
        self._links: list[tuple[str, int, int, str]] = []  # session, seq, mismatch, finding
        self._bodies: dict[str, tuple[str, int, str, bytes]] = {}  # large ones, by key
        self._stored_bodies: set[str] = set()  # keys this writer knows are in the file
        self._body_key: bodies.BodyKey | None = None
        self._sticky = findings.sticky_shapes(results_db.db)
        self._counts = [0, 0, 0, 0, 0]  # exchanges, matched, mismatched, errors, noise
        self._done: list[tuple[str, str, float]] = []  # run_sessions rows
        self._since = time.monotonic()

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.flush()
            return
        try:
            self.flush()
        except Exception as flush_exc:
            exc.add_note(
                f"triage: the last {len(self._results)} results were not stored: {flush_exc}"
            )

    def add(self, result: ExchangeResult) -> None:
        """Buffer one exchange's result; writes a batch when the buffer is full."""
        verdict = result.verdict
        outcome = _OUTCOMES.get(verdict.outcome)
        if outcome is None:
            raise ValueError(f"not an outcome: {verdict.outcome!r}")
        route = result.route or verdict.route
        expected, actual = result.expected, result.actual
        noise = len(verdict.noise)
        sealed = self._rdb.sealed
        signature: str | None = None
        mismatch_index: int | None = None
        keys: list[FindingKey] = []
        if outcome == _MISMATCHED or verdict.serialization:
            keys = finding_keys(route, verdict)
        if outcome != _MATCHED or keys:
            signature = self._mismatch(result, outcome, route)
            mismatch_index = len(self._mismatches) - 1
            for key in keys:
                stored = grouped(key, self._sticky)
                ident = finding_id(stored)
                if ident not in self._findings:
                    self._findings[ident] = findings.finding_row(
                        stored, self.run_id, self._rdb.sealer
                    )
                self._links.append((result.session, result.seq, mismatch_index, ident))
        self._results.append(
            (
                self.run_id,
                storable(result.session),
                result.seq,
                storable(result.method),
                sealed(storable(result.url)),
                storable(route),
                outcome,
                signature,
                mismatch_index,  # replaced by the mismatch's id at flush time
                expected.status if expected is not None else None,
                actual.status if actual is not None else None,
                result.baseline_status,
                result.expected_ms,
                result.actual_ms,
                len(verdict.differences),
                noise,
                None if verdict.error is None else sealed(storable(verdict.error)),
                len(verdict.serialization),
            )
        )
        counts = self._counts
        counts[0] += 1
        counts[_COUNT_SLOT[outcome]] += 1
        counts[4] += noise
        if len(self._results) >= self.batch_size or (
            time.monotonic() - self._since >= self.flush_interval
        ):
            self.flush()

    def session_done(self, session: str) -> None:
        """Every result of `session` has been added: what is buffered is written now,
        with its `run_sessions` row in the same transaction (a resumed run does not
        replay it again). One transaction per finished session at least: a long run's
        progress is kept as its sessions finish."""
        self._done.append((self.run_id, storable(session), time.time()))
        self.flush()

    def _mismatch(self, result: ExchangeResult, outcome: str, route: str) -> str | None:
        """Buffer the mismatches row of a mismatched or errored exchange, or of a matched
        one with serialization differences; its signature."""
        verdict = result.verdict
        expected, actual = result.expected, result.actual
        differences = [mask_difference(d) for d in verdict.differences]
        serialization = [mask_difference(d) for d in verdict.serialization]
        inline, refs = self._split_bodies(
            result.request_body,
            expected.body if expected else None,
            actual.body if actual else None,
        )
        signature = None
        if outcome == _MISMATCHED:
            signature = verdict.signature or signature_of(route, verdict.differences, fallback=True)
            if signature not in self._signatures:
                kinds, paths = shape_of(verdict.differences)
                self._signatures[signature] = (
                    signature,
                    route,
                    dumps(kinds),
                    dumps(paths),
                    self.run_id,
                    self.run_id,
                )
            first = describe_difference(differences[0]) if differences else ""
        elif outcome == _MATCHED:
            first = describe_difference(serialization[0]) if serialization else ""
        else:
            first = f"error: {verdict.error or 'no answer'}"
        sealed = self._rdb.sealed  # the content columns (docs/results-db.md)
        self._mismatches.append(
            [  # every text valid UTF-8 (`storable`): JSON through `dumps`, the rest here
                "",  # the id, assigned at flush time: unique in the database
                self.run_id,
                storable(result.session),
                result.seq,
                storable(result.method),
                sealed(storable(result.url)),
                storable(route),
                outcome,
                signature,
                None if verdict.error is None else sealed(storable(verdict.error)),
                expected.status if expected else None,
                actual.status if actual else None,
                result.baseline_status,
                result.expected_ms,
                result.actual_ms,
                sealed(storable(first)),
                sealed(dumps(differences)),
                sealed(dumps([mask_difference(d) for d in verdict.noise])),
                dumps(list(verdict.rules_applied)),
                sealed(dumps(mask_headers(result.request_headers))),
                sealed(dumps(mask_headers(expected.headers))) if expected else None,
                sealed(dumps(mask_headers(actual.headers))) if actual else None,
                self._rendered(result.expected_rendered),
                self._rendered(result.actual_rendered),
                *inline,
                None if result.sent is None else sealed(dumps(result.sent)),
                sealed(dumps(list(result.ambiguous_ids))),
                sealed(dumps(serialization)),
                *refs,
            ]
        )
        return signature

    def _split_bodies(self, *raw: bytes | None) -> tuple[list[bytes | None], list[str | None]]:
        """Each body inline (small) or as the key of a `bodies` row (large: compressed
        now, so a buffered batch holds no raw body, and only once per key)."""
        inline: list[bytes | None] = []
        refs: list[str | None] = []
        if self._rdb.body_keys is not None and any(body is not None for body in raw):
            return self._sealed_bodies(raw)
        for body in raw:
            if body is None or len(body) <= bodies.INLINE_MAX:
                inline.append(body)
                refs.append(None)
                continue
            key = bodies.body_key(body)
            if key not in self._bodies and key not in self._stored_bodies:
                found = self._rdb.db.conn.execute(
                    "SELECT 1 FROM bodies WHERE hash = ?", [key]
                ).fetchone()
                if found is None:
                    encoding, data = bodies.packed(body)
                    self._bodies[key] = (key, len(body), encoding, data)
                else:
                    self._stored_bodies.add(key)
            inline.append(None)
            refs.append(key)
        return inline, refs

    def _sealing(self) -> bodies.BodyKey:
        if self._body_key is None:
            assert self._rdb.body_keys is not None
            with self._rdb.db.atomic():  # the connection's key, derived once
                sealed = bodies.SealedText.install(self._rdb.db.conn, self._rdb.body_keys)
                self._body_key = sealed.key()
        return self._body_key

    def _seal(self, body: bytes) -> str:
        """Buffer `body` encrypted for `bodies`; its key."""
        sealing = self._sealing()
        key = sealing.ref(body)
        if key not in self._bodies:
            encoding, data = sealing.seal(key, body)
            self._bodies[key] = (key, len(body), encoding, data)
        return key

    def _sealed_bodies(
        self, raw: tuple[bytes | None, ...]
    ) -> tuple[list[bytes | None], list[str | None]]:
        """Every body (small ones too) encrypted into `bodies` (`triage.bodies.BodyKey`)."""
        return [None] * len(raw), [None if body is None else self._seal(body) for body in raw]

    def _rendered(self, text: str | None) -> str | None:
        """A rendered body to store: masked; when bodies are encrypted, encrypted into
        `bodies` too, the column holding `sealed:` and its key (`bodies.rendered_text`)."""
        masked = _masked(text)
        if masked is None or self._rdb.body_keys is None:
            return masked
        return bodies.SEALED_TEXT + self._seal(masked.encode("utf-8", "surrogatepass"))

    def flush(self) -> None:
        """Write the buffered rows now, in one transaction."""
        self._since = time.monotonic()
        if not self._results and not self._done:
            return
        db = self._rdb.db
        mismatch_ids = self._unique_ids(len(self._mismatches))
        for row, mismatch_id in zip(self._mismatches, mismatch_ids, strict=True):
            row[_MISMATCH_ID_INDEX] = mismatch_id
        results = [
            row if row[8] is None else (*row[:8], mismatch_ids[row[8]], *row[9:])
            for row in self._results
        ]
        try:
            with db.atomic():
                conn = db.conn
                conn.executemany(_INSERT_RESULT, results)
                if self._bodies:
                    conn.executemany(bodies.INSERT_BODY, list(self._bodies.values()))
                if self._mismatches:
                    conn.executemany(_UPSERT_SIGNATURE, list(self._signatures.values()))
                    conn.executemany(_INSERT_MISMATCH, self._mismatches)
                if self._links:
                    conn.executemany(findings.UPSERT_FINDING, list(self._findings.values()))
                    conn.executemany(
                        findings.INSERT_LINK,
                        [
                            (self.run_id, session, seq, mismatch_ids[index], finding)
                            for session, seq, index, finding in self._links
                        ],
                    )
                conn.execute(
                    "UPDATE runs SET exchanges = exchanges + ?, matched = matched + ?, "
                    "mismatched = mismatched + ?, errors = errors + ?, "
                    "noise_suppressed = noise_suppressed + ? WHERE id = ?",
                    [*self._counts, self.run_id],
                )
                if self._done:
                    conn.executemany(resume.INSERT_DONE, self._done)
        except sqlite3.IntegrityError as exc:
            raise TriageError(
                f"cannot store results of run {self.run_id}: {exc} "
                "(an exchange stored twice in one run?)",
                path=self._rdb.path,
            ) from exc
        except sqlite3.Error as exc:
            raise TriageError(
                f"cannot store results of run {self.run_id} in {self._rdb.path}: {exc}",
                path=self._rdb.path,
            ) from exc
        self.written += len(results)
        if len(self._stored_bodies) > STORED_BODIES_CACHE:
            self._stored_bodies.clear()  # a cache: a key not in it is looked up again
        self._stored_bodies.update(self._bodies)
        self._bodies = {}
        self._results = []
        self._mismatches = []
        self._signatures = {}
        self._findings = {}
        self._links = []
        self._counts = [0, 0, 0, 0, 0]
        self._done = []

    def _unique_ids(self, count: int) -> list[str]:
        """`count` new mismatch ids (8 hex digits), unique in the batch and the database."""
        ids: list[str] = []
        taken: set[str] = set()
        while len(ids) < count:
            fresh = {random_id() for _ in range(count - len(ids))} - taken
            for chunk in _chunks(sorted(fresh), 500):
                marks = ", ".join("?" * len(chunk))
                rows = self._rdb.db.conn.execute(
                    f"SELECT id FROM mismatches WHERE id IN ({marks})", chunk
                )
                fresh.difference_update(r[0] for r in rows)
            taken.update(fresh)
            ids.extend(fresh)
        return ids


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _masked(text: str | None) -> str | None:
    return None if text is None else storable(mask_text(text))


@contextmanager
def open_results(path: Path) -> Iterator[ResultsDB]:
    """An existing results database, for reading (`NoDatabase` if there is none)."""
    results_db = ResultsDB(path, create=False)
    try:
        yield results_db
    finally:
        results_db.close()
