"""One recorded request as a PowerShell command (`parity repro --shell powershell`, the
default on Windows): `curl.exe` (shipped with Windows 10 and later) with backtick
continuations, each argument a PowerShell string literal.

Quoting (`powershell_quote`): a printable value is a single-quoted literal, where only
the single quote needs doubling (and PowerShell also takes the typographic single quotes
U+2018-U+201B as quotes, so those are doubled too); a value with control characters (a body's
newlines) is a double-quoted literal with every special character backtick-escaped (`$`,
the backtick, `"` and the typographic double quotes U+201C-U+201E) and the control characters
spelled out (`` `n ``, `` `r ``, `` `t ``, `` `0 ``, else `$([char]0x1B)`), so the exact
characters reach curl whatever the console's line endings.

Windows PowerShell 5.1 and PowerShell before 7.3 drop the double quotes inside
arguments to native programs (`{"a":1}` reaches curl as `{a:1}`). When an argument
holds one, the command starts with a small function `q` that escapes them the way the
C runtime reads them back (`\\"`, preceding backslashes doubled) only where that old
argument passing is in effect (`$PSNativeCommandArgumentPassing` unset or `Legacy`; read
with `Get-Variable -ErrorAction SilentlyContinue`, since reading a variable that does not
exist throws under `Set-StrictMode`), and the argument is given as `(q '...')`.

Text bodies go as `--data-raw` (no `@file` reading, no stripping). A binary body (shown
only with `--show-secrets`) cannot be an argument, nor can a text body over
`POWERSHELL_ARGUMENT_MAX` (Windows caps a whole command line at 32,767 characters): it
is written from base64 (lines of `BASE64_LINE` characters) to a temporary file that is
removed right after (`try`/`finally`), since PowerShell before 7.4 pipes text, not
bytes, to native programs. An assignment is not a command line: no limit applies. No
here-strings: their line endings are the script file's, not the body's.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from parity.replayer.curl import ShownRequest

_SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
_DOUBLE_SPECIAL = '`$"\u201c\u201d\u201e'
_ESCAPES = {"\n": "`n", "\r": "`r", "\t": "`t", "\0": "`0"}
POWERSHELL_ARGUMENT_MAX = 8000
"""The longest body given to curl.exe as an argument, quoted: Windows takes a command
line of at most 32,767 characters, all arguments together. A longer one goes through a
temporary file, as a binary body does."""
BASE64_LINE = 8000
"""Characters of base64 per line of the command."""

QUOTE_FUNCTION = (
    "function q([string]$s) { if ((Get-Variable PSNativeCommandArgumentPassing -ValueOnly "
    "-ErrorAction SilentlyContinue) -in $null, 'Legacy') "
    "{ $s = $s -replace '(\\\\*)\"', '$1$1\\\"'; "
    "if ($s -match '\\s') { $s = $s -replace '(\\\\+)$', '$1$1' } }; $s }"
    '  # PowerShell before 7.3 drops " in arguments to curl.exe'
)


def _plain(char: str) -> bool:
    return char.isprintable() and not 0xD800 <= ord(char) <= 0xDFFF


def powershell_quote(value: str) -> str:
    """`value` as one PowerShell string literal that evaluates to exactly `value` (see the
    module doc): single-quoted when every character is printable, else double-quoted
    with escapes. A lone surrogate (a byte that was not UTF-8, kept as U+DC80-U+DCFF)
    cannot reach curl as that byte through a command line; it is spelled `[char]0xDCxx`,
    so the command still parses and shows where it was."""
    if all(_plain(c) for c in value):
        return "'" + "".join(c * 2 if c in _SINGLE_QUOTES else c for c in value) + "'"
    out = []
    for char in value:
        if char in _DOUBLE_SPECIAL:
            out.append("`" + char)
        elif char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif _plain(char):
            out.append(char)
        else:
            out.append(f"$([char]0x{ord(char):04X})")
    return '"' + "".join(out) + '"'


def powershell_bytes(data: bytes) -> str:
    """An expression for exactly these bytes: `[Convert]::FromBase64String('...')`."""
    return f"[Convert]::FromBase64String('{base64.b64encode(data).decode('ascii')}')"


def _needs_q(value: str) -> bool:
    """Whether the old argument passing would change `value`: a double quote, or a
    trailing backslash where the value is wrapped in quotes (it has whitespace)."""
    return '"' in value or (value.endswith("\\") and any(c.isspace() for c in value))


def _argument(value: str) -> str:
    """A native program's argument: quoted, through `q` when the old argument passing
    would change it."""
    quoted = powershell_quote(value)
    return f"(q {quoted})" if _needs_q(value) else quoted


def _write_body(data: bytes) -> list[str]:
    """Statements writing `data` to the temporary file `$body`: one line of base64, or
    for a long one, lines of at most `BASE64_LINE` characters joined into `$base64`."""
    encoded = base64.b64encode(data).decode("ascii")
    if len(encoded) <= BASE64_LINE:
        return [f"[IO.File]::WriteAllBytes($body.FullName, {powershell_bytes(data)})"]
    chunks = [encoded[i : i + BASE64_LINE] for i in range(0, len(encoded), BASE64_LINE)]
    return [
        "$base64 = @(",
        *(f"  '{chunk}'" for chunk in chunks),
        ") -join ''",
        "[IO.File]::WriteAllBytes($body.FullName, [Convert]::FromBase64String($base64))",
    ]


def powershell_command(shown: ShownRequest) -> str:
    """The request as PowerShell lines: curl.exe, one option per line."""
    parts = ["curl.exe -sS -i"]
    for option, value in shown.options:
        argument = _argument(value) if value is not None else None
        parts.append(" ".join(p for p in (option, argument) if p is not None))
    values = [v for _, v in shown.options if v is not None]
    data = None
    if isinstance(shown.body, str):
        argument = _argument(shown.body)
        if len(argument) > POWERSHELL_ARGUMENT_MAX:
            data = shown.body.encode("utf-8")
        else:
            parts.append("--data-raw " + argument)
            values.append(shown.body)
    elif shown.body is not None:
        data = shown.body
    if data is not None:
        parts.append('--data-binary "@$($body.FullName)"')
    needs_q = any(_needs_q(v) for v in values)
    command = " `\n  ".join(parts)
    lines = [QUOTE_FUNCTION] if needs_q else []
    if data is None:
        return "\n".join([*lines, command])
    return "\n".join(
        [
            *lines,
            "$body = New-TemporaryFile",
            "try {",
            *("  " + line for line in _write_body(data)),
            "  " + command.replace("\n", "\n  "),
            "} finally { Remove-Item $body.FullName }",
        ]
    )
