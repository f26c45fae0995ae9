"""`parity secrets list|forget`: the project's secret store (`.parity/secrets`).

`list` shows each stored token, the field it was redacted from and the session that first
had it, never a value; `forget` deletes the store (recordings stay readable and
comparable, and replay then needs `[replay.secrets]` for what is not minted live).
"""

from __future__ import annotations

import click

from parity.config import config_option, current_config
from parity.errors import UserError
from parity.formats import Format, output_options, write_rows
from parity.output import print_json
from parity.prompts import confirm


@click.group()
def secrets() -> None:
    """The originals of redacted values, kept encrypted for replay.

    Example:

    \b
        parity secrets list
    """


@secrets.command("list")
@output_options
@config_option
def list_secrets(output: Format | None) -> None:
    """List the stored tokens: where each was seen, never its value.

    Example:

    \b
        parity secrets list --json
        parity secrets list --csv
    """
    from parity.sessions.keys import project_key
    from parity.sessions.secretstore import STORE_FILE, SecretStore

    state = current_config().state
    key = project_key(state, create=False)
    if key is None and (state / STORE_FILE).exists():
        raise UserError(
            f"secret store {state / STORE_FILE}: no project key to open it "
            f"({state / 'key'} is missing; set $PARITY_PROJECT_KEY)"
        )
    stored = SecretStore(state, key).load() if key is not None else {}
    rows = [
        {"token": token, "field": s.field, "session": s.session}
        for token, s in sorted(stored.items(), key=lambda item: (item[1].session, item[1].field))
    ]
    if output is Format.JSON:
        print_json(rows)
        return
    if output is not None:
        write_rows(rows, output, columns=("token", "field", "session"))
        return
    if not rows:
        click.echo(f"parity secrets: no stored secrets in {state}")
        return
    for row in rows:
        click.echo(f"{row['token']}  {row['field']}  (session {row['session']})")
    click.echo(f"{len(rows)} secrets in {state / 'secrets'}")


@secrets.command("forget")
@click.option("--yes", "-y", is_flag=True, help="Do not ask (needed without a terminal).")
@config_option
def forget(yes: bool) -> None:
    """Delete the secret store. Recordings stay readable and comparable; replay can no
    longer send their originals (only `[replay.secrets]` and what targets mint live).
    Asks first on a terminal; elsewhere --yes is required.

    Example:

    \b
        parity secrets forget --yes
    """
    from parity.sessions.secretstore import STORE_FILE, SecretStore

    state = current_config().state
    path = state / STORE_FILE
    if not path.exists():
        click.echo(f"parity secrets: no secret store at {path}")
        return
    refusal = "parity secrets forget deletes the secret store"
    if not confirm(f"Delete {path} for good?", yes=yes, refusal=refusal):
        click.echo("parity secrets: nothing deleted")
        return
    # The store is deleted without opening it: no key is needed to forget.
    if SecretStore.delete(path):
        click.echo(f"parity secrets: deleted {path}")
    else:
        click.echo(f"parity secrets: no secret store at {path}")
