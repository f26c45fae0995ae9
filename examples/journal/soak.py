"""A soak's traffic against the journal backend (usually through ``parity record``), in
simulated hours: ``--per-hour`` requests make an hour, as ``server.py --sim-hour`` counts.

    python examples/journal/soak.py http://127.0.0.1:8080 --hours 8 --per-hour 40

Two users, as the runbook's Stage 1 exercises the app:

- ana logs in once and works all day in her Personal vault: the entry list (the sidebar),
  search filters, reopening and saving entries, the vault list (tab switching);
- ben logs in every hour, looks at his vaults and logs out. On a 401 he logs in again
  and retries, at most three times, as the app does: against ``--degrade`` after its
  ``--loop-after`` hours that is the login loop.

Prints one line at the end, ``SOAK_DONE <exchanges> <seconds>``; exit 1 when ana cannot
log in or load her vault.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from examples.journal.pilot import USERS

QUERIES = ("q=lake", "q=coffee&type=note", "section=travel", "tag=work", "checkbox=true", "q=")
RETRIES = 3


class Soak:
    def __init__(self, base: str, per_hour: int) -> None:
        self.base = base.rstrip("/")
        self.per_hour = per_hour
        self.sent = 0

    async def call(
        self,
        session: aiohttp.ClientSession,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        self.sent += 1
        async with session.request(
            method, self.base + path, json=json_body, headers=headers or {}
        ) as reply:
            body = await reply.read()
            data = await reply.json(content_type=None) if body.startswith(b"{") else None
            return reply.status, data

    async def log_in(self, session: aiohttp.ClientSession, user: str) -> str | None:
        creds = {"username": user, "password": USERS[user].password}
        status, data = await self.call(session, "POST", "/api/login", json_body=creds)
        return data["token"] if status == 200 and data else None

    async def ana_day(self, session: aiohttp.ClientSession, hours: int) -> None:
        token = await self.log_in(session, "ana")
        if token is None:
            raise SystemExit("soak: ana cannot log in")
        auth = {"Authorization": f"Bearer {token}"}
        _, vaults = await self.call(session, "GET", "/api/vaults", headers=auth)
        vault = next(v for v in vaults["vaults"] if v["name"] == "Personal")
        phrase = {"passphrase": USERS["ana"].passphrases["Personal"]}
        status, loaded = await self.call(
            session, "POST", f"/api/vaults/{vault['id']}/load", json_body=phrase, headers=auth
        )
        if status != 200:
            raise SystemExit(f"soak: ana cannot load her vault ({status})")
        headers = {**auth, "X-Vault-Session": loaded["vault_session"]}
        base = f"/api/vaults/{vault['id']}"
        _, listing = await self.call(session, "GET", base + "/entries", headers=headers)
        entries = [item["id"] for item in listing["items"]]
        step = 0
        for hour in range(hours):
            target = (hour + 1) * self.per_hour - 4  # leave ben his four
            while self.sent < target:
                entry = entries[step % len(entries)]
                kind = step % 5
                if kind == 0:
                    await self.call(session, "GET", base + "/entries", headers=headers)
                elif kind == 1:
                    query = QUERIES[step % len(QUERIES)]
                    await self.call(session, "GET", f"{base}/search?{query}", headers=headers)
                elif kind == 2:
                    await self.call(session, "GET", f"{base}/entries/{entry}", headers=headers)
                elif kind == 3:
                    await self.call(
                        session, "POST", f"{base}/entries/{entry}/save", headers=headers
                    )
                else:
                    await self.call(session, "GET", "/api/vaults", headers=auth)
                step += 1
            await self.ben_hour()  # ben's turn comes between ana's hours

    async def ben_hour(self) -> None:
        async with aiohttp.ClientSession() as session:
            token = await self.log_in(session, "ben")
            for _attempt in range(RETRIES + 1):
                auth = {"Authorization": f"Bearer {token}"}
                status, _ = await self.call(session, "GET", "/api/vaults", headers=auth)
                if status != 401:
                    break
                token = await self.log_in(session, "ben")
            await self.call(
                session, "POST", "/api/logout", headers={"Authorization": f"Bearer {token}"}
            )


async def run(base: str, hours: int, per_hour: int) -> int:
    soak = Soak(base, per_hour)
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        await soak.ana_day(session, hours)
    print(f"SOAK_DONE {soak.sent} {time.monotonic() - started:.3f}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("url", help="the backend, or parity record's proxy in front of it")
    parser.add_argument("--hours", type=int, default=8, help="simulated hours (default 8)")
    parser.add_argument(
        "--per-hour", type=int, default=200, help="requests per simulated hour (default 200)"
    )
    args = parser.parse_args(argv)
    return asyncio.run(run(args.url, args.hours, args.per_hour))


if __name__ == "__main__":
    sys.exit(main())
