"""Micro-benchmark of the recorder's redaction on large bodies (issue 11).

    .venv/bin/python -m bench.redact_bench [--size BYTES] [--max-body BYTES]

Times `Redactor.body` (best of 5 repeats, µs per call) on a realistic JSON body (the
bench upstream's journal entries) with no secret and with one secret field deep inside,
a form and a text body of the same size, and a 2 KB JSON body. The redactor has first
seen a login (a password and a token), so echo looks are part of the cost, as in a
recording.
"""

from __future__ import annotations

import argparse
import timeit

from bench.upstream import journal_json
from parity.sessions import Exchange, Request, Response
from parity.sessions.redact import RedactionPolicy, Redactor

JSON = [(b"Content-Type", b"application/json")]
FORM = [(b"Content-Type", b"application/x-www-form-urlencoded")]
TEXT = [(b"Content-Type", b"text/plain; charset=utf-8")]


def bodies(size: int) -> dict[str, tuple[bytes, list[tuple[bytes, bytes]]]]:
    plain = journal_json(size)
    cut = plain.rfind(b'{"id":', 0, len(plain) * 9 // 10)
    deep = plain[:cut] + b'{"access_token":"s3cr3t-deep-value-0123456789"},' + plain[cut:]
    words = plain.replace(b'"', b"").replace(b":", b"=").replace(b",", b"&")[:size]
    form = b"&".join(b"f%d=%s" % (i, words[i * 64 : i * 64 + 60]) for i in range(size // 70))
    text = plain.replace(b'"', b" ").replace(b"{", b"\n")[:size]
    return {
        "json 2 KB, no secret": (journal_json(2048), JSON),
        "json, no secret": (plain, JSON),
        "json, one secret deep": (deep, JSON),
        "form, no secret": (form, FORM),
        "form, password last": (form + b"&password=hunter2-hunter2", FORM),
        "text, no secret": (text, TEXT),
    }


def redactor(max_body: int) -> Redactor:
    redactor = Redactor(RedactionPolicy(max_body=max_body), b"k" * 32)
    login = Request("POST", "http", "h", 80, "/login", "HTTP/1.1", JSON,
                    b'{"user":"ana","password":"correct horse battery"}', 0.0)  # fmt: skip
    answer = Response(200, "OK", "HTTP/1.1", JSON, b'{"token":"tok-1234567890abcdef"}', 0.0)
    redactor.exchange(Exchange(1, login, answer))
    return redactor


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=1024 * 1024)
    parser.add_argument("--max-body", type=int, default=0)
    args = parser.parse_args()
    red = redactor(args.max_body)
    print(f"max_body {args.max_body}, size {args.size} bytes; µs per body, best of 5")
    for name, (body, headers) in bodies(args.size).items():
        notes: list[str] = []
        found: dict[str, tuple[bytes, str]] = {}
        out = red.body(body, headers, found, notes, "response")
        number = 20 if len(body) < 100_000 else 5

        def once(body: bytes = body, headers: list[tuple[bytes, bytes]] = headers) -> None:
            red.body(body, headers, {}, [], "response")

        best = min(timeit.repeat(once, number=number, repeat=5))
        state = "unchanged" if out is body else f"redacted {len(found)}"
        note = f" ({notes[0]})" if notes else ""
        print(f"{name:28s} {best / number * 1e6:10.0f} µs  {state}{note}")


if __name__ == "__main__":
    main()
