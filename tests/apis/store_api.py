"""A commerce/inventory REST API in the style of Stripe or Shopify, in two modes.

    python -m tests.apis.store_api --mode reference|port [--host 127.0.0.1] [--port 0]

Prints ``API_LISTENING http://HOST:PORT`` and serves until SIGTERM/SIGINT. State is in
memory: four seeded catalog products, then whatever clients create.

Endpoints (JSON bodies unless noted; every /v2 call needs ``Authorization: Bearer TOKEN``)

    POST   /oauth/token          form: grant_type=client_credentials&client_id&client_secret
                                 -> {"access_token", "expires_in", "token_type", "scope"}
    GET    /v2/products          ?limit=1..100 (10) &page=1.. -> {"object": "list", "url",
                                 "data", "has_more", "next_page"} + Link: <...>; rel="next"
    POST   /v2/products          {"name", "sku", "price", "currency"?, "inventory"?} -> 201,
                                 Location, ETag
    GET    /v2/products/{id}     ETag
    PATCH  /v2/products/{id}     {"name"?, "price"?, "inventory"?, "active"?}; If-Match
                                 optional, 412 when stale
    DELETE /v2/products/{id}     -> {"id", "object": "product", "deleted": true}
    POST   /v2/orders            {"items": [{"product", "quantity"}]}; Idempotency-Key
                                 (a repeated key returns the first order again)
    GET    /v2/orders/{id}

Errors are ``{"error": {"type", "code", "message", "param"?, "request_log_url"}}`` (401
also has ``WWW-Authenticate: Bearer``); the token endpoint answers RFC 6749 errors
``{"error", "error_description"}``. Prices are integer cents; tax is 8.25 %.

Volatile values: they change on every run and on every process, in BOTH modes, so none
of them is a difference between reference and port:

- ``Request-Id`` header: ``req_`` + 14 base62 characters (not a uuid), on every response;
- ``X-RateLimit-Remaining`` (decreasing per request) and ``X-RateLimit-Reset`` (epoch);
- ``created``: unix epoch seconds (int) on products and orders;
- ``updated``: ISO-8601 UTC with milliseconds (``2026-01-01T10:00:00.123Z``) on products;
- ``ETag``: ``W/"<16 hex>"`` over the product's state (its ids and times included);
- ``access_token``: ``at_`` + 32 base62, new on every token request;
- ``client_secret`` on orders: ``<order id>_secret_`` + 24 base62 (idempotency-style);
- ``receipt_url`` on orders: a URL ending in a random receipt number;
- ``request_log_url`` in error bodies and ``Original-Request`` on a repeated
  Idempotency-Key: they quote the ``req_...`` id of the request (never correlated:
  nothing sends them back, and they are not uuids, so only a baseline or learned noise
  can tell they vary);
- ids: the reference mints integers from a random start per process.

Port differences (the port plays a rewrite of the reference; the client request that
shows each is in brackets):

(a) id TYPE change: ids are strings, ``"prod_8f3aK2"`` / ``"ord_Q2x9LmP4"``, where the
    reference has integers (``48213377``), in ``id``, ``items[].product``, ``Location``
    and error messages. [every POST /v2/products, POST /v2/orders and the requests that
    use their ids]. A real client-visible change, but a minted value: the replayer
    carries the port's ids through the session and the differ maps them back
    (docs/rules.md, value maps), so it must not be reported; what it tests is that the
    follow-up requests (GET/PATCH/DELETE /v2/products/{id}, orders referencing products,
    GET /v2/orders/{id}) reach the right records: no spurious 404.
(b) pagination: ``has_more`` is computed as "this page is full", so on the LAST page when
    it is full the port says ``has_more: true``, ``next_page: N+1`` and sends a
    ``Link`` to an empty page, where the reference says ``false`` / ``null`` / no Link.
    [GET /v2/products?limit=3&page=2 with 6 products; ?limit=2&page=3 with 6]. And the
    port's ``Link`` header has ``rel=next`` without quotes [every page with a next one:
    GET /v2/products?limit=3&page=1, ?limit=4&page=1, ?limit=2&page=1..2].
(c) tax rounding: the port rounds half to even (C#'s ``Math.Round`` default), the
    reference half up, so a subtotal whose 8.25 % tax ends in exactly half a cent with
    an even cent below it is 1 cent lower in ``tax`` and ``total`` [POST /v2/orders with
    2 x "Ceramic Mug" (500): subtotal 1000, tax 82.5 -> 83 vs 82, total 1083 vs 1082,
    and GET /v2/orders/{id} of that order].
"""

from __future__ import annotations

import hashlib
import itertools
import random
import secrets
import string
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

if __package__ in (None, ""):  # run as a script: make the `tests` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.apis import now, parse_args, run

API_VERSION = "2026-01-01"
CLIENT_ID = "app_7Hq2Lx"
CLIENT_SECRET = "cs_test_4f9a1c7e2b"
TOKEN_TTL = 3600
RATE_LIMIT = 100
TAX_RATE = Decimal("0.0825")
BASE62 = string.digits + string.ascii_letters
SEED_CATALOG = (
    ("Espresso Cup", "CUP-ESP-01", 1250, 40),
    ("Pour-over Kettle", "KTL-POV-02", 4599, 12),
    ("Paper Filters (100)", "FLT-PAP-100", 899, 200),
    ("Grinder Brush", "BRS-GRD-03", 350, 75),
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID = web.RequestKey("request_id", str)
Id = int | str


def base62(n: int) -> str:
    return "".join(secrets.choice(BASE62) for _ in range(n))


def iso_now() -> str:
    return (
        datetime.fromtimestamp(now(), UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


class ApiError(Exception):
    def __init__(
        self, status: int, type_: str, code: str, message: str, param: str | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.type, self.code, self.param = status, type_, code, param


@dataclass
class Product:
    seq: int
    id: Id
    name: str
    sku: str
    price: int
    currency: str
    inventory: int
    created: int
    updated: str
    active: bool = True
    metadata: dict[str, str] = field(default_factory=dict)

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "product",
            "name": self.name,
            "sku": self.sku,
            "price": self.price,
            "currency": self.currency,
            "inventory": self.inventory,
            "active": self.active,
            "metadata": self.metadata,
            "created": self.created,
            "updated": self.updated,
        }

    @property
    def etag(self) -> str:
        digest = hashlib.sha1(orjson.dumps(self.view(), option=orjson.OPT_SORT_KEYS))
        return f'W/"{digest.hexdigest()[:16]}"'


@dataclass
class Order:
    id: Id
    body: dict[str, Any]
    request_id: str


class Store:
    """In-memory state and the id scheme of one mode."""

    def __init__(self, port: bool) -> None:
        self.port = port
        self.products: dict[Id, Product] = {}
        self.orders: dict[Id, Order] = {}
        self.tokens: dict[str, float] = {}
        self.idempotency: dict[str, Id] = {}
        self._seq = itertools.count(1)
        self._product_ids = itertools.count(random.randrange(10_000_000, 90_000_000))
        self._order_ids = itertools.count(random.randrange(100_000_000, 900_000_000))
        self.requests = 0
        for name, sku, price, inventory in SEED_CATALOG:
            self.add_product(name, sku, price, "usd", inventory)

    def mint(self, kind: str) -> Id:
        """The next id: an int in the reference, `prod_XXXXXX` / `ord_XXXXXXXX` in the port."""
        product = kind == "product"
        if not self.port:
            return next(self._product_ids if product else self._order_ids)
        taken: set[Id] = set(self.products if product else self.orders)
        while (minted := f"{'prod' if product else 'ord'}_{base62(6 if product else 8)}") in taken:
            pass
        return minted

    def lookup_key(self, raw: object) -> Id | None:
        """A request's id as this mode keys it (the reference's are ints)."""
        if self.port:
            return raw if isinstance(raw, str) else None
        if isinstance(raw, bool):
            return None
        if isinstance(raw, int):
            return raw
        if isinstance(raw, str) and raw.isdigit() and len(raw) < 19:
            return int(raw)
        return None

    def add_product(
        self, name: str, sku: str, price: int, currency: str, inventory: int
    ) -> Product:
        product = Product(
            seq=next(self._seq),
            id=self.mint("product"),
            name=name,
            sku=sku,
            price=price,
            currency=currency,
            inventory=inventory,
            created=int(now()),
            updated=iso_now(),
        )
        self.products[product.id] = product
        return product

    def product(self, raw: object, param: str = "id") -> Product:
        key = self.lookup_key(raw)
        product = self.products.get(key) if key is not None else None
        if product is None:
            raise ApiError(
                404 if param == "id" else 400,
                "invalid_request_error",
                "resource_missing",
                f"No such product: '{raw}'",
                param,
            )
        return product

    def tax(self, subtotal: int) -> int:
        rounding = ROUND_HALF_EVEN if self.port else ROUND_HALF_UP
        return int((Decimal(subtotal) * TAX_RATE).quantize(Decimal(1), rounding=rounding))


class StoreApi:
    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.store = Store(port=mode == "port")

    # --- plumbing ------------------------------------------------------------------

    def json(
        self, data: object, status: int = 200, headers: dict[str, str] | None = None
    ) -> web.Response:
        return web.Response(
            status=status,
            body=orjson.dumps(data),
            headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
        )

    def log_url(self, request: web.Request) -> str:
        return f"https://dashboard.example-store.test/logs/{request[REQUEST_ID]}?t={int(now())}"

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.store.requests += 1
        request[REQUEST_ID] = "req_" + base62(14)
        try:
            if request.path.startswith("/v2/"):
                self.authenticate(request)
            response = await handler(request)
        except ApiError as exc:
            error: dict[str, Any] = {"type": exc.type, "code": exc.code, "message": str(exc)}
            if exc.param is not None:
                error["param"] = exc.param
            error["request_log_url"] = self.log_url(request)
            response = self.json({"error": error}, exc.status)
            if exc.status == 401:
                response.headers["WWW-Authenticate"] = 'Bearer realm="store", error="invalid_token"'
        except web.HTTPNotFound:
            response = self.json(
                {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "url_invalid",
                        "message": f"Unrecognized request URL ({request.method}: {request.path})",
                        "request_log_url": self.log_url(request),
                    }
                },
                404,
            )
        except web.HTTPMethodNotAllowed:
            response = self.json(
                {"error": {"type": "invalid_request_error", "code": "method_not_allowed"}}, 405
            )
        remaining = RATE_LIMIT - (self.store.requests - 1) % RATE_LIMIT - 1
        response.headers["Request-Id"] = request[REQUEST_ID]
        response.headers["Store-Version"] = API_VERSION
        response.headers["X-RateLimit-Limit"] = str(RATE_LIMIT)
        response.headers["X-RateLimit-Remaining"] = str(remaining)
        response.headers["X-RateLimit-Reset"] = str(int(now()) // 60 * 60 + 60)
        response.headers.setdefault("Cache-Control", "no-cache, no-store")
        return response

    def authenticate(self, request: web.Request) -> None:
        auth = request.headers.get("Authorization", "")
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else ""
        expires = self.store.tokens.get(token)
        if expires is None or expires < now():
            raise ApiError(
                401,
                "authentication_error",
                "invalid_api_token",
                "Invalid or expired access token provided",
            )

    @staticmethod
    async def body(request: web.Request) -> dict[str, Any]:
        try:
            data = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            raise ApiError(
                400, "invalid_request_error", "body_invalid", "Request body must be JSON"
            ) from None
        if not isinstance(data, dict):
            raise ApiError(400, "invalid_request_error", "body_invalid", "Expected an object")
        return data

    @staticmethod
    def int_field(
        data: dict[str, Any], name: str, *, required: bool, minimum: int = 0
    ) -> int | None:
        value = data.get(name)
        if value is None and not required:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            message = f"Invalid {name}: must be an integer >= {minimum}"
            if value is None:
                message = f"Missing required param: {name}."
            raise ApiError(400, "invalid_request_error", "parameter_invalid_integer", message, name)
        return value

    @staticmethod
    def query_int(request: web.Request, name: str, default: int, maximum: int) -> int:
        raw = request.query.get(name, str(default))
        if not raw.isdigit() or not 1 <= int(raw) <= maximum:
            raise ApiError(
                400,
                "invalid_request_error",
                "parameter_invalid_integer",
                f"Invalid {name}: must be an integer from 1 to {maximum}",
                name,
            )
        return int(raw)

    def product_response(
        self, product: Product, status: int = 200, headers: dict[str, str] | None = None
    ) -> web.Response:
        return self.json(product.view(), status, {"ETag": product.etag, **(headers or {})})

    # --- auth ----------------------------------------------------------------------

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "client_credentials":
            return self.json(
                {"error": "unsupported_grant_type", "error_description": "Use client_credentials"},
                400,
            )
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return self.json(
                {"error": "invalid_client", "error_description": "Client authentication failed"},
                401,
            )
        token = "at_" + base62(32)
        self.store.tokens[token] = now() + TOKEN_TTL
        body = {
            "access_token": token,
            "expires_in": TOKEN_TTL,
            "token_type": "bearer",
            "scope": "products:read products:write orders:write",
        }
        return self.json(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    # --- products ------------------------------------------------------------------

    async def list_products(self, request: web.Request) -> web.Response:
        limit = self.query_int(request, "limit", 10, 100)
        page = self.query_int(request, "page", 1, 10_000)
        items = sorted(self.store.products.values(), key=lambda p: p.seq)
        start = (page - 1) * limit
        chunk = items[start : start + limit]
        # (b): the port takes a full page to mean that there is more.
        has_more = len(chunk) == limit if self.store.port else start + limit < len(items)
        headers: dict[str, str] = {}
        if has_more:
            url = f"{request.scheme}://{request.host}/v2/products?limit={limit}&page={page + 1}"
            rel = "rel=next" if self.store.port else 'rel="next"'
            headers["Link"] = f"<{url}>; {rel}"
        body = {
            "object": "list",
            "url": "/v2/products",
            "data": [p.view() for p in chunk],
            "has_more": has_more,
            "next_page": page + 1 if has_more else None,
        }
        return self.json(body, headers=headers)

    async def create_product(self, request: web.Request) -> web.Response:
        data = await self.body(request)
        name, sku = data.get("name"), data.get("sku")
        for param, value in (("name", name), ("sku", sku)):
            if not isinstance(value, str) or not value.strip():
                raise ApiError(
                    400,
                    "invalid_request_error",
                    "parameter_missing",
                    f"Missing required param: {param}.",
                    param,
                )
        price = self.int_field(data, "price", required=True)
        inventory = self.int_field(data, "inventory", required=False) or 0
        currency = data.get("currency", "usd")
        if currency not in ("usd", "eur"):
            raise ApiError(
                400, "invalid_request_error", "currency_invalid", "Invalid currency", "currency"
            )
        assert isinstance(name, str) and isinstance(sku, str) and price is not None
        product = self.store.add_product(name, sku, price, currency, inventory)
        location = f"{request.scheme}://{request.host}/v2/products/{product.id}"
        return self.product_response(product, 201, {"Location": location})

    async def get_product(self, request: web.Request) -> web.Response:
        return self.product_response(self.store.product(request.match_info["id"]))

    async def update_product(self, request: web.Request) -> web.Response:
        product = self.store.product(request.match_info["id"])
        if_match = request.headers.get("If-Match")
        if if_match is not None and if_match != product.etag:
            raise ApiError(
                412,
                "invalid_request_error",
                "etag_mismatch",
                "The product changed since it was read (If-Match does not match)",
            )
        data = await self.body(request)
        if "price" in data:
            product.price = self.int_field(data, "price", required=True) or 0
        if "inventory" in data:
            product.inventory = self.int_field(data, "inventory", required=True) or 0
        if isinstance(data.get("name"), str):
            product.name = data["name"]
        if isinstance(data.get("active"), bool):
            product.active = data["active"]
        if isinstance(data.get("metadata"), dict):
            product.metadata.update({str(k): str(v) for k, v in data["metadata"].items()})
        product.updated = iso_now()
        return self.product_response(product)

    async def delete_product(self, request: web.Request) -> web.Response:
        product = self.store.product(request.match_info["id"])
        del self.store.products[product.id]
        return self.json({"id": product.id, "object": "product", "deleted": True})

    # --- orders --------------------------------------------------------------------

    async def create_order(self, request: web.Request) -> web.Response:
        key = request.headers.get("Idempotency-Key")
        if key is not None and key in self.store.idempotency:
            order = self.store.orders[self.store.idempotency[key]]
            replayed = {
                "Idempotency-Key": key,
                "Idempotent-Replayed": "true",
                "Original-Request": order.request_id,
            }
            return self.json(order.body, headers=replayed)
        data = await self.body(request)
        items = data.get("items")
        if not isinstance(items, list) or not items:
            raise ApiError(
                400, "invalid_request_error", "parameter_missing", "Missing items.", "items"
            )
        lines: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise ApiError(
                    400, "invalid_request_error", "parameter_invalid", "Bad item", f"items[{index}]"
                )
            product = self.store.product(item.get("product"), f"items[{index}][product]")
            quantity = self.int_field(item, "quantity", required=True, minimum=1) or 1
            amount = product.price * quantity
            lines.append(
                {
                    "product": product.id,
                    "description": product.name,
                    "quantity": quantity,
                    "unit_amount": product.price,
                    "amount": amount,
                }
            )
        subtotal = sum(line["amount"] for line in lines)
        tax = self.store.tax(subtotal)
        order_id = self.store.mint("order")
        body = {
            "id": order_id,
            "object": "order",
            "status": "open",
            "currency": "usd",
            "items": lines,
            "subtotal": subtotal,
            "tax_rate": "8.25",
            "tax": tax,
            "total": subtotal + tax,
            "client_secret": f"{order_id}_secret_{base62(24)}",
            "receipt_url": f"https://receipts.example-store.test/r/{secrets.randbelow(10**12):012d}",
            "created": int(now()),
        }
        self.store.orders[order_id] = Order(order_id, body, request[REQUEST_ID])
        headers: dict[str, str] = {}
        if key is not None:
            self.store.idempotency[key] = order_id
            headers = {"Idempotency-Key": key, "Idempotent-Replayed": "false"}
        return self.json(body, headers=headers)

    async def get_order(self, request: web.Request) -> web.Response:
        raw = request.match_info["id"]
        key = self.store.lookup_key(raw)
        order = self.store.orders.get(key) if key is not None else None
        if order is None:
            raise ApiError(
                404, "invalid_request_error", "resource_missing", f"No such order: '{raw}'", "id"
            )
        return self.json(order.body)


def build_app(mode: str) -> web.Application:
    api = StoreApi(mode)
    app = web.Application(middlewares=[api.middleware])
    app.add_routes(
        [
            web.post("/oauth/token", api.token),
            web.get("/v2/products", api.list_products, allow_head=False),
            web.post("/v2/products", api.create_product),
            web.get("/v2/products/{id}", api.get_product, allow_head=False),
            web.patch("/v2/products/{id}", api.update_product),
            web.delete("/v2/products/{id}", api.delete_product),
            web.post("/v2/orders", api.create_order),
            web.get("/v2/orders/{id}", api.get_order, allow_head=False),
        ]
    )
    return app


def main(argv: list[str] | None = None) -> None:
    args = parse_args((__doc__ or "").splitlines()[0], argv)
    run(build_app(args.mode), args.host, args.port)


if __name__ == "__main__":
    main()
