"""The settings in effect, as `parity.toml` states them (`parity.config` reads the file,
`parity.config_schema` checks it): the targets by name, the paths, the replay and gate
defaults, and `ConfigError` when the file cannot be used."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from parity.defaults import DEFAULT_CONCURRENCY, DEFAULT_RESET_TIMEOUT, DEFAULT_TIMEOUT
from parity.errors import UserError

CONFIG_FILE = "parity.toml"
DEFAULT_SESSIONS = Path(".parity") / "sessions"
DEFAULT_DB = Path(".parity") / "parity.db"


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


@dataclass(frozen=True, slots=True)
class Config:
    """The settings in effect. `path` is the file they came from (None: defaults only)."""

    path: Path | None = None
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
    gate: GateConfig = field(default_factory=GateConfig)

    @property
    def where(self) -> str:
        return str(self.path) if self.path is not None else CONFIG_FILE

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
            names = ", ".join(sorted(self.targets))
            raise ConfigError(
                f"{option} {value!r}: not a URL (http://…) nor a target in {self.where} "
                f"(configured: {names})"
            )
        raise ConfigError(
            f"{option} {value!r}: not a URL (http://…), and there are no [targets] "
            f"in {self.where} to name"
        )

    def resolve_target(self, name_or_url: str) -> tuple[str, str | None]:
        """`(url, reset command or None)` for a target name or a URL (see `resolve`)."""
        found = self.resolve(name_or_url)
        return found.url, found.reset
