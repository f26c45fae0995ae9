"""`parity repro --shell powershell` (issue 13): the quoting function alone, and the
command it builds for a recorded request. No PowerShell here: each literal is checked
against PowerShell's quoting rules by a small reader of them (`evaluate`)."""

from __future__ import annotations

import base64
import re
import sys

import pytest

from parity.replayer import curl_command
from parity.replayer.powershell import QUOTE_FUNCTION, powershell_bytes, powershell_quote
from tests.test_repro import ORIGIN, exchange

_BACKTICK = {"n": "\n", "r": "\r", "t": "\t", "0": "\0"}


def evaluate(literal: str) -> str:
    """The string a PowerShell string literal evaluates to: '...' with '' (and the
    typographic single quotes, doubled) or "..." with backtick escapes and
    $([char]0xNN); anything else unescaped inside is an error, as a paste would be."""
    if literal[0] == "'":
        assert literal[-1] == "'"
        inner = literal[1:-1]
        out, i = [], 0
        while i < len(inner):
            char = inner[i]
            if char in "'\u2018\u2019\u201a\u201b":
                assert inner[i + 1] == char, f"unescaped quote in {literal!r}"
                i += 1
            out.append(char)
            i += 1
        return "".join(out)
    assert literal[0] == '"' and literal[-1] == '"'
    inner = literal[1:-1]
    out, i = [], 0
    while i < len(inner):
        char = inner[i]
        if char == "`":
            following = inner[i + 1]
            out.append(_BACKTICK.get(following, following))
            i += 2
        elif char == "$":
            match = re.match(r"\$\(\[char\]0x([0-9A-F]{4})\)", inner[i:])
            assert match, f"an unescaped $ in {literal!r}"
            out.append(chr(int(match.group(1), 16)))
            i += match.end()
        else:
            assert char not in '"\u201c\u201d\u201e', f"unescaped quote in {literal!r}"
            assert char.isprintable(), f"a raw control character in {literal!r}"
            out.append(char)
            i += 1
    return "".join(out)


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "",
        "it's",
        "\u2018curly\u2019 \u201alow\u201b",
        'say "hi"',
        "\u201ccurly doubles\u201d\u201e",
        "$env:USERPROFILE $(Remove-Item x) ${x}",
        "back`tick``",
        "line one\nline two\r\n",
        "tab\there\x00nul\x1besc\x7fdel",
        "x\udcff\udc80y",  # bytes that were not UTF-8, as surrogateescape keeps them
        "non-ASCII: café ✓ 日本",
        "@file.json",
        "trailing backslash \\",
    ],
)
def test_every_value_round_trips_through_a_literal(value: str) -> None:
    literal = powershell_quote(value)
    assert "\n" not in literal and "\r" not in literal  # one line, whatever the console
    assert evaluate(literal) == value


def test_printable_values_are_single_quoted_and_control_characters_double_quoted() -> None:
    assert powershell_quote("$x `y") == "'$x `y'"  # nothing expands in single quotes
    assert powershell_quote("it's") == "'it''s'"
    assert powershell_quote("a\nb$c") == '"a`nb`$c"'
    assert powershell_quote("\udcff") == '"$([char]0xDCFF)"'


def test_the_quote_function_reads_the_passing_mode_safely_under_strict_mode() -> None:
    """`$PSNativeCommandArgumentPassing` does not exist before PowerShell 7.3: reading it
    throws under `Set-StrictMode -Version Latest`, `Get-Variable` does not."""
    assert QUOTE_FUNCTION.startswith(
        "function q([string]$s) { if ((Get-Variable PSNativeCommandArgumentPassing -ValueOnly "
        "-ErrorAction SilentlyContinue) -in $null, 'Legacy') { "
    )
    assert "$PSNativeCommandArgumentPassing" not in QUOTE_FUNCTION
    assert QUOTE_FUNCTION.count("{") == QUOTE_FUNCTION.count("}")


def test_bytes_that_are_not_utf8_are_base64() -> None:
    data = b"\xff\xfe\x00binary\x80"
    expression = powershell_bytes(data)
    match = re.fullmatch(r"\[Convert\]::FromBase64String\('([A-Za-z0-9+/=]+)'\)", expression)
    assert match and base64.b64decode(match.group(1)) == data


def test_the_command_is_curl_exe_with_backticks_and_quoted_arguments() -> None:
    command, notes = curl_command(exchange(), "http://127.0.0.1:5001", ORIGIN, shell="powershell")
    lines = command.splitlines()
    assert lines[0] == QUOTE_FUNCTION  # the JSON body has double quotes
    assert lines[1] == "curl.exe -sS -i `"
    assert all(line.endswith(" `") for line in lines[1:-1])
    assert "  -X 'POST' `" in lines
    assert "  'http://127.0.0.1:5001/api/login?token=***&page=2' `" in lines
    assert "  -H 'Authorization: ***' `" in lines and "s3cret" not in command
    assert "  -H 'X-Trace: one' `" in lines and "  -H 'x-trace: two' `" in lines
    assert "  -H 'X-Empty;' `" in lines
    body = lines[-1]
    assert body.startswith("  --data-raw (q '{") and body.endswith("}')")
    assert "\\" not in command.split("\n", 1)[1]  # no POSIX continuation
    assert "secrets are masked as ***: --show-secrets prints them" in notes


def test_a_binary_body_goes_through_a_temporary_file_only_with_show_secrets() -> None:
    raw = b"\x00\x01\xffnot text"
    binary = exchange(body=raw)
    command, notes = curl_command(binary, "http://h:1", ORIGIN, shell="powershell")
    assert "--data" not in command and any("binary body is left out" in n for n in notes)
    command, _ = curl_command(binary, "http://h:1", ORIGIN, shell="powershell", show_secrets=True)
    lines = command.splitlines()
    assert lines[0] == "$body = New-TemporaryFile" and lines[1] == "try {"
    assert lines[2] == f"  [IO.File]::WriteAllBytes($body.FullName, {powershell_bytes(raw)})"
    assert '--data-binary "@$($body.FullName)"' in lines[-2]
    assert lines[-1] == "} finally { Remove-Item $body.FullName }"


def test_a_multiline_body_stays_exact() -> None:
    text = b'line "one"\r\nline $two\n'
    command, _ = curl_command(exchange(body=text), "http://h:1", ORIGIN, shell="powershell")
    body = command.splitlines()[-1].strip()
    literal = re.fullmatch(r"--data-raw \(q (.*)\)", body)
    assert literal and evaluate(literal.group(1)) == text.decode()


def test_repro_shell_option(monkeypatch: pytest.MonkeyPatch) -> None:
    from parity.repro_cmd import repro

    shell = next(p for p in repro.params if p.name == "shell")
    assert callable(shell.default)
    monkeypatch.setattr(sys, "platform", "win32")
    assert shell.default() == "powershell"
    monkeypatch.setattr(sys, "platform", "linux")
    assert shell.default() == "posix"
