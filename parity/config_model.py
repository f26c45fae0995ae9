"""The settings in effect, as `parity.toml` states them (`parity.config` reads the file,
`parity.config_schema` checks it): the targets by name, the paths, the replay and gate
defaults, and `ConfigError` when the file cannot be used."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parity.defaults import DEFAULT_CONCURRENCY, DEFAULT_RESET_TIMEOUT, DEFAULT_TIMEOUT
from parity.errors import UserError
from parity.sessions.redact import RedactionPolicy

CONFIG_FILE = "parity.toml"
DEFAULT_SESSIONS = Path(".parity") / "sessions"
DEFAULT_DB = Path(".parity") / "parity.db"
DEFAULT_RULES = Path("parity-rules.toml")


_SHOWN = 60
"""Longest name or value quoted whole in an error; longer ones are cut (one short line)."""


def shown(value: object) -> str:
    """A name for an error line: a short printable one as it is, anything else `quoted`."""
    if isinstance(value, str) and value.isprintable() and 0 < len(value) <= _SHOWN:
        return value
    return quoted(value)


def quoted(value: object) -> str:
    """`repr(value)` for an error line: escaped (no newline gets through) and cut after 60
    characters; an integer too long to show is described."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    text = repr(value[: _SHOWN + 1] if isinstance(value, str) else value)
    return text if len(text) <= _SHOWN + 2 else text[:_SHOWN] + "…"


class ConfigError(UserError):
    """`parity.toml` cannot be used: the message names the file and the key (`key`)."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True, slots=True)
class TargetConfig:
    """A backend named in `[targets.NAME]`, or a bare URL (then `name` is the URL)."""

    name: str
    url: str
    reset: str | None = None


@dataclass(frozen=True, slots=True)
class GateConfig:
    """`[gate]`: read by `parity gate`. None: not set (the command's own default)."""

    max_open: int | None = None
    out: Path | None = None
    soak: Mapping[str, Any] = field(default_factory=dict)
    """`[gate.soak]`: the keys set (thresholds and settings of `triage.soak`; `out` a
    Path), read by `parity soak` and `parity gate --soak`."""


@dataclass(frozen=True, slots=True)
class RecordConfig:
    """`[record]`: `encrypt` new session files; the `key_file` to encrypt and read them
    with (None: a passphrase, `PARITY_PASSPHRASE` or typed on a terminal); `rotate`."""

    encrypt: bool = False
    key_file: Path | None = None
    rotate: str = ""
    """Start a new part of each session file at this age or size (`30m`, `500MB`)."""


@dataclass(frozen=True, slots=True)
class Config:
    """The settings in effect. `path` is the file they came from (None: defaults only),
    `origin` how it was chosen (`--config`, `PARITY_CONFIG`, "" found by looking), and
    `lines` where each setting is written in it (`"[replay] target"` -> 12), so a message
    can say `parity.toml:12 [replay] target`."""

    path: Path | None = None
    origin: str = ""
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)
    sessions: Path = DEFAULT_SESSIONS
    db: Path = DEFAULT_DB
    rules: Path | None = None
    """None: `parity-rules.toml` when present (the replay's own default)."""
    targets: Mapping[str, TargetConfig] = field(default_factory=dict)
    target: str | None = None
    """The default `--target` (a name or a URL), if any."""
    baseline: tuple[str, ...] = ()
    """The default `--baseline`s (names or URLs)."""
    concurrency: int = DEFAULT_CONCURRENCY
    timeout: float = DEFAULT_TIMEOUT
    reset_timeout: float = DEFAULT_RESET_TIMEOUT
    pace: float | None = None
    """`[replay] pace`, as a speed-up factor (`parity.pace`): None asap, 1.0 recorded."""
    max_idle: float | None = None
    """`[replay] max_idle`: seconds, the longest paced gap (None: no cap)."""
    gate: GateConfig = field(default_factory=GateConfig)
    record: RecordConfig = field(default_factory=RecordConfig)
    redact: RedactionPolicy = field(default_factory=RedactionPolicy)
    """`[redact]`: what the recorder replaces by tokens."""
    secrets: Mapping[str, str] = field(default_factory=dict)
    """`[replay.secrets]`: token or field name -> `env:VAR` or a literal value."""

    @property
    def root(self) -> Path:
        """The directory its relative paths start from: the file's, else the working
        directory (`Path()`, so default paths print as before)."""
        return self.path.parent if self.path is not None else Path()

    @property
    def state(self) -> Path:
        """The project's `.parity/` directory (key, secret store): beside parity.toml,
        else in the working directory."""
        return self.root / ".parity"

    @property
    def default_rules(self) -> Path:
        """The rules file used when none is named: `parity-rules.toml` beside the file."""
        return self.root / DEFAULT_RULES

    @property
    def where(self) -> str:
        return str(self.path) if self.path is not None else CONFIG_FILE

    def setting(self, key: str) -> str:
        """Where a setting is written, for a message: `parity.toml:12 [replay] target`
        (`key` as `[table] name`; without its line, `parity.toml [replay] target`)."""
        line = self.lines.get(key)
        return f"{self.where}:{line} {key}" if line else f"{self.where} {key}"

    def origin_of(self, name: str) -> str | None:
        """Where the path setting `name` (`sessions`, `db`) came from: its line in the
        file, "the default beside FILE", or None without a file (the working directory's
        default, as the option's help says)."""
        if self.path is None:
            return None
        key = f"[paths] {name}"
        if key in self.lines:
            return self.setting(key)
        return f"the default beside {self.where}"

    def resolve(self, name_or_url: str, option: str = "--target") -> TargetConfig:
        """A configured target by name, or a URL. A URL that is a configured target's URL
        brings that target's name and reset hook along. Unknown names are a
        `ConfigError` listing the configured ones."""
        value = name_or_url.strip()
        if value.startswith(("http://", "https://")):
            url = value.rstrip("/")
            for known in self.targets.values():
                if known.url == url:
                    return known
            return TargetConfig(url, url)
        found = self.targets.get(value)
        if found is not None:
            return found
        if self.targets:
            names = ", ".join(shown(name) for name in sorted(self.targets)[:20])
            raise ConfigError(
                f"{option} {quoted(value)}: not a URL (http://…) nor a target in {self.where} "
                f"(configured: {names})"
            )
        raise ConfigError(
            f"{option} {quoted(value)}: not a URL (http://…), and there are no [targets] "
            f"in {self.where} to name"
        )

    def resolve_target(self, name_or_url: str) -> tuple[str, str | None]:
        """`(url, reset command or None)` for a target name or a URL (see `resolve`)."""
        found = self.resolve(name_or_url)
        return found.url, found.reset
