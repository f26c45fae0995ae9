"""A storefront back office's session against the store API: deterministic, stateful.

    python -m tests.apis.store_client BASE_URL      (or: python tests/apis/store_client.py)

The same 33 requests in the same order against either mode: every id, token and ETag
comes from an earlier response (nothing minted is hard-coded), pages are followed
through the ``Link`` header (by path against BASE_URL, so a recording proxy sees them),
and statuses that differ between the modes are tolerated. Only a failed token or
product creation, which everything after depends on, stops it with exit 1.
"""

from __future__ import annotations

import json
import random
import re
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

if __package__ in (None, ""):  # run as a script: make the `tests` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.apis import HttpClient, Reply

SEED = 20260101
CLIENT_ID = "app_7Hq2Lx"
CLIENT_SECRET = "cs_test_4f9a1c7e2b"
NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


class Failed(Exception):
    """A step the rest of the session depends on did not work."""


class Storefront:
    def __init__(self, base_url: str) -> None:
        self.http = HttpClient(base_url, user_agent="acme-backoffice/3.2 (python)")
        self.token = ""
        self.rng = random.Random(SEED)

    def idempotency_key(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def api(self, method: str, path: str, data: object = None, **headers: str) -> Reply:
        sent = {"Authorization": f"Bearer {self.token}", **headers}
        body = None
        if data is not None:
            body = json.dumps(data).encode()
            sent["Content-Type"] = "application/json"
        return self.http.call(method, path, body=body, headers=sent)

    def authenticate(self) -> None:
        form = {"grant_type": "client_credentials", "client_id": CLIENT_ID}
        form["client_secret"] = CLIENT_SECRET
        reply = self.http.call(
            "POST",
            "/oauth/token",
            body=urlencode(form).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        token = (reply.json() or {}).get("access_token") if reply.status == 200 else None
        if not isinstance(token, str):
            raise Failed(f"POST /oauth/token -> {reply.status}")
        self.token = token

    def create(self, name: str, sku: str, price: int, inventory: int) -> dict[str, Any]:
        data = {"name": name, "sku": sku, "price": price, "currency": "usd"}
        data["inventory"] = inventory
        reply = self.api("POST", "/v2/products", data)
        product = reply.json()
        if reply.status != 201 or not isinstance(product, dict) or "id" not in product:
            raise Failed(f"POST /v2/products {name} -> {reply.status}")
        return product

    def walk(self, limit: int, expected: int) -> list[dict[str, Any]]:
        """Follow `Link: rel=next` from page 1 until `expected` products were seen."""
        seen: list[dict[str, Any]] = []
        path: str | None = f"/v2/products?limit={limit}&page=1"
        for _ in range(20):
            assert path is not None
            reply = self.api("GET", path)
            page = reply.json()
            if reply.status != 200 or not isinstance(page, dict):
                break
            seen.extend(page.get("data") or [])
            if len(seen) >= expected:
                break
            path = next_path(reply.headers.get("Link", ""))
            if path is None:
                break
        return seen

    def order(self, items: list[tuple[dict[str, Any], int]], key: str) -> Reply:
        lines = [{"product": product["id"], "quantity": quantity} for product, quantity in items]
        return self.api("POST", "/v2/orders", {"items": lines}, **{"Idempotency-Key": key})

    def run(self) -> None:
        self.authenticate()
        self.http.call("GET", "/v2/products?limit=5")  # no token: 401
        catalog = {
            p["sku"]: p
            for p in (self.api("GET", "/v2/products?limit=100").json() or {}).get("data", [])
        }
        cup, filters = catalog.get("CUP-ESP-01"), catalog.get("FLT-PAP-100")
        if cup is None or filters is None:
            raise Failed("the seeded catalog is missing")

        mug = self.create("Ceramic Mug", "MUG-CER-12OZ", 500, 30)
        tumbler = self.create("Travel Tumbler", "TMB-TRV-16OZ", 2400, 15)
        count = len((self.api("GET", "/v2/products?limit=100").json() or {}).get("data", []))
        self.walk(3, count)  # 6 products: page 2 is the last one, and full
        jar = self.create("Cold Brew Jar", "JAR-CBR-1L", 1875, 8)
        self.walk(4, count + 1)  # 7 products: page 2 is the last one, not full

        etags = {}
        for product in (mug, tumbler, jar):
            reply = self.api("GET", f"/v2/products/{product['id']}")
            etags[product["sku"]] = reply.headers.get("ETag", "")
        stale = etags[mug["sku"]]
        self.api(
            "PATCH",
            f"/v2/products/{mug['id']}",
            {"inventory": 28, "metadata": {"shelf": "B4"}},
            **{"If-Match": stale},
        )
        self.api(
            "PATCH", f"/v2/products/{jar['id']}", {"price": 1900}, **{"If-Match": etags[jar["sku"]]}
        )
        self.api(
            "PATCH", f"/v2/products/{mug['id']}", {"inventory": 27}, **{"If-Match": stale}
        )  # 412

        self.authenticate()  # a fresh token for the order desk
        first_key = self.idempotency_key()
        order_a = self.order([(cup, 2)], first_key).json() or {}
        self.order([(cup, 2)], first_key)  # a retry: the same order again
        order_b = self.order([(mug, 2)], self.idempotency_key()).json() or {}
        order_d = (
            self.order([(cup, 1), (filters, 3), (jar, 1)], self.idempotency_key()).json() or {}
        )
        for order in (order_a, order_b, order_d):
            if "id" in order:
                self.api("GET", f"/v2/orders/{order['id']}")

        self.api("DELETE", f"/v2/products/{tumbler['id']}")
        self.api("GET", f"/v2/products/{tumbler['id']}")  # 404
        self.api("PATCH", f"/v2/products/{tumbler['id']}", {"price": 2300})  # 404
        self.order([(tumbler, 1)], self.idempotency_key())  # 400: no such product
        self.api("POST", "/v2/products", {"sku": "NONAME-1", "price": 100})  # 400: no name
        self.walk(2, count)  # 6 products again: page 3 is the last one, and full


def next_path(link: str) -> str | None:
    """The path and query of a Link header's rel=next target (quoted or not)."""
    match = NEXT_LINK.search(link)
    if match is None:
        return None
    parts = urlsplit(match.group(1))
    return parts.path + (f"?{parts.query}" if parts.query else "")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m tests.apis.store_client BASE_URL", file=sys.stderr)
        return 2
    client = Storefront(args[0])
    try:
        client.run()
    except Failed as exc:
        print(f"store_client: {exc}", file=sys.stderr)
        return 1
    finally:
        client.http.close()
    statuses = dict(sorted(client.http.statuses.items()))
    print(f"store_client: {client.http.count} requests, statuses {statuses}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
