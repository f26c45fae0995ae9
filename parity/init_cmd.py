"""`parity init`: write a commented parity.toml to start from (see `parity.config`)."""

from __future__ import annotations

from pathlib import Path

import click

from parity.config import CONFIG_FILE
from parity.errors import UserError

TEMPLATE = """\
# parity.toml: settings for `parity` run in this directory.
# Command-line options win over these; PARITY_DB / PARITY_SESSIONS win over [paths].
# Relative paths are relative to this file.

[paths]
sessions = ".parity/sessions"      # session files: `parity record` writes, `parity replay` reads
db = ".parity/parity.db"           # results database (owner-only SQLite)
# rules = "parity-rules.toml"      # differ rules; default: that file when it exists

# Named backends: `--target csharp`, `--baseline python`.
# `reset` (optional) is a shell command run before each replayed session and before each
# `parity shrink` attempt, to put the backend back in its fixture state; {target} becomes
# the target's URL. A non-zero exit or a timeout: the session is not replayed (its
# exchanges are errors saying why). With a reset hook, sessions replay one at a time.
[targets.python]
url = "http://127.0.0.1:5000"
# reset = "curl -fsS -X POST {target}/_admin/reset"

[targets.csharp]
url = "http://127.0.0.1:5001"
# reset = "curl -fsS -X POST {target}/_admin/reset"

[replay]
# target = "csharp"                # default --target
# baseline = ["python"]            # default --baseline(s); --no-baseline skips them
concurrency = 8                    # sessions replayed at once
timeout = 30                       # seconds to wait for one answer
# reset_timeout = 60               # seconds a reset command may take
# pace = "x10"                     # default --pace: asap, recorded or xN (x10, x0.5)
# max_idle = "5s"                  # default --max-idle: the longest paced gap

[gate]
# max_open = 0                     # open findings `parity gate` tolerates
# out = "logs/parity_harness_results.json"   # where `parity gate` writes its verdict

[gate.soak]                        # `parity soak` and `parity gate --soak` (docs/soak.md)
# max_p95_growth = 1.5             # a route's p95 latency trend across the soak
# max_size_growth = 1.5            # a route's response bytes or a top-level JSON list
# max_login_loops = 0              # sessions going 401 -> login -> 401 again and again
# max_error_rate = 0.01            # 5xx and unanswered, over the whole soak

[record]
# encrypt = true                   # session files and stored bodies encrypted at rest
# key_file = "~/.config/parity/journal.key"   # the key; else PARITY_PASSPHRASE (never beside the data)
"""


@click.command()
@click.argument(
    "path",
    required=False,
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path(CONFIG_FILE),
    metavar="[PATH]",
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: Path, force: bool) -> None:
    """Write a commented parity.toml: paths, named targets with reset hooks, replay
    defaults, gate thresholds.

    PATH defaults to ./parity.toml. An existing file is left alone unless --force.

    Example:

    \b
        parity init && parity replay --target csharp --baseline python
    """
    if path.exists() and not force:
        raise UserError(f"{path} already exists (--force overwrites it)")
    if path.is_dir():
        raise UserError(f"{path} is a directory")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(TEMPLATE, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}") from None
    click.echo(f"parity init: wrote {path}")
