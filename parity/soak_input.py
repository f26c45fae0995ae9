"""What `parity soak` and `parity gate --soak` share: the soak's settings and thresholds
(options, else `[gate.soak]` in parity.toml, else the defaults of `triage.soak`), and
reading the recordings into the judged report."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from parity.config import current_config
from parity.errors import UserError
from parity.options import load_rules_file
from parity.progress import ProgressBar

if TYPE_CHECKING:
    from parity.triage.soak import SoakSettings, SoakThresholds


def duration(value: str, option: str) -> float:
    """Seconds from `1h`, `30m`, `90s`, `250ms` or a bare number (`parity.pace`'s
    durations), at least a millisecond."""
    from parity.pace import parse_duration

    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise UserError(f"{option} {exc}") from None
    if seconds < 0.001:
        raise UserError(f"{option} must be at least 1ms, not {value!r}")
    return seconds


def soak_settings(
    configured: Mapping[str, Any],
    rules: Path | None,
    bucket: str | None,
    loop_window: str | None,
    loop_cycles: int | None,
) -> SoakSettings:
    """The report's settings: options, else `[gate.soak]`, else the defaults."""
    from parity.triage.soak import (
        DEFAULT_BUCKET,
        DEFAULT_LOOP_CYCLES,
        DEFAULT_LOOP_WINDOW,
        SoakSettings,
    )

    differ_rules, _ = load_rules_file(rules if rules is not None else current_config().rules)
    return SoakSettings(
        bucket=duration(bucket, "--bucket")
        if bucket is not None
        else configured.get("bucket", DEFAULT_BUCKET),
        loop_window=duration(loop_window, "--loop-window")
        if loop_window is not None
        else configured.get("loop_window", DEFAULT_LOOP_WINDOW),
        loop_cycles=loop_cycles or configured.get("loop_cycles", DEFAULT_LOOP_CYCLES),
        routes=differ_rules.routes,
    )


def soak_thresholds(configured: Mapping[str, Any]) -> SoakThresholds:
    from parity.triage.soak import THRESHOLD_KEYS, SoakThresholds

    return SoakThresholds(**{k: v for k, v in configured.items() if k in THRESHOLD_KEYS})


def run_soak(
    paths: tuple[Path, ...] | list[Path],
    settings: SoakSettings,
    thresholds: SoakThresholds,
    *,
    quiet: bool,
) -> dict[str, Any]:
    """The judged report over the session files under `paths` (one red line on a file
    that is not a session or cannot be decrypted)."""
    from parity.replayer import session_files
    from parity.sessions import SessionFileError
    from parity.triage.soak import judge, soak_files

    files = session_files(paths)
    if not files:
        raise UserError("no session files (*.parity) in " + ", ".join(map(str, paths)))
    try:
        with ProgressBar(len(files), "reading the soak", quiet=quiet, unit="files") as update:
            report, read = soak_files(files, settings, update)
    except SessionFileError as exc:
        raise UserError(str(exc)) from None
    return judge(report.to_json(read), thresholds)
