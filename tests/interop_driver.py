"""A short part of the journal pilot's day (`examples/journal/pilot.py`) against
BASE_URL: logging in, vaults, browsing, entries written, edited and saved, a large
gzip-compressed entry. Traffic for the HAR and mitmproxy flow tests
(tests/test_interop.py), small enough to record three ways in a second.

    python -m tests.interop_driver BASE_URL
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp

from examples.journal.pilot import USERS, Client, PilotDay


def _session(jar: aiohttp.CookieJar) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        auto_decompress=False,
        cookie_jar=jar,
        headers={"User-Agent": "journal-pilot/1.0", "Accept-Encoding": "identity"},
        timeout=aiohttp.ClientTimeout(total=60),
    )


async def day(base_url: str) -> int:
    """The day on two client connections, as a browser's pool reconnects: the second
    goes on with the login (cookie and token) of the first."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with _session(jar) as session:
        client = Client(session, base_url, None)
        pilot = PilotDay(client, USERS["ana"])
        await pilot.log_in()
        vaults = await pilot.vault_list()
        vault = f"/api/vaults/{vaults[0]['id']}"
        unlocked = await pilot.load_vault(vaults[0], wrong_first=True)
    async with _session(jar) as session:
        client.session = session
        first = await pilot.browse(vault, unlocked)
        await pilot.reopen(vault, unlocked, first)
        await pilot.write_entries(vault, unlocked)
        await pilot.large_entry(vault, unlocked)
        return client.count


if __name__ == "__main__":
    print(f"driver: {asyncio.run(day(sys.argv[1]))} requests")
