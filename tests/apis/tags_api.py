"""A resource-tagging service in the style of an AWS JSON 1.1 API, in two modes.

    python -m tests.apis.tags_api --mode reference|port [--host 127.0.0.1] [--port 0]

Prints ``API_LISTENING http://HOST:PORT`` and serves until SIGTERM/SIGINT. State is in
memory.

Protocol: every operation is ``POST /`` with ``X-Amz-Target: TagService_20260101.<Op>``,
``Content-Type: application/x-amz-json-1.1`` and a SigV4-style ``Authorization:
AWS4-HMAC-SHA256 Credential=...`` header (its presence is checked, not its signature: a
replayed request could never carry a valid one). Responses are
``application/x-amz-json-1.1`` with an ``x-amzn-RequestId`` (uuid) header. Errors are
HTTP 400 ``{"__type": "ResourceNotFoundException", "message": "..."}`` (also
``ValidationException``, ``UnknownOperationException``, ``MissingAuthenticationTokenException``).

Operations (request -> response)

    CreateResource    {"Name", "Tags": [{"Key", "Value"}]}
                      -> {"ResourceId": "res-<17 hex>", "ResourceArn", "RequestId"}
    TagResource       {"ResourceId", "Tags": [...]} -> {} (existing keys are overwritten)
    UntagResource     {"ResourceId", "TagKeys": [...]} -> {}
    ListTags          {"ResourceId"} -> {"Tags": [...], "NextToken": null}
    DescribeResource  {"ResourceId"} -> {"Resource": {"ResourceId", "Arn", "Name",
                      "Status", "Tags": [...], "CreationTime": <epoch float>}, "RequestId"}
    DeleteResource    {"ResourceId"} -> {}

Tags are a set: ``ListTags`` and ``DescribeResource`` return them in a RANDOM order on
every call, in BOTH modes (as DynamoDB or S3 do: the order is not part of the contract).

Volatile values (they change on every call or run, in both modes; none is a difference):
the ``x-amzn-RequestId`` header and ``RequestId`` body fields (uuids), ``ResourceId``
and the ARN that contains it (minted, random), ``CreationTime`` (epoch seconds as a
float), the order of every ``Tags`` array.

Port differences (true ones; the client request that shows each is in brackets):

(a) a deleted resource: the port answers ``DescribeResource`` with HTTP 404
    ``{"code": "NotFound", "message": ...}`` where the reference answers 400
    ``{"__type": "ResourceNotFoundException", "message": ...}``: both reject, with
    another error [DescribeResource after DeleteResource]. The other operations on a
    deleted resource answer alike in both modes.
(b) ``ListTags`` leaves ``"NextToken": null`` out (a serializer that skips nulls)
    [every successful ListTags].
(c) ``DescribeResource`` drops tags whose ``Value`` is the empty string (``ListTags``
    keeps them) [DescribeResource of "build-cache" (tag ``scratch``) and "media-bucket"
    (tag ``backup``)]: one tag missing from a set-like array that both modes shuffle.
"""

from __future__ import annotations

import random
import re
import secrets
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

if __package__ in (None, ""):  # run as a script: make the `tests` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.apis import now, parse_args, run

SERVICE = "TagService_20260101"
CONTENT_TYPE = "application/x-amz-json-1.1"
ACCOUNT = "123456789012"
REGION = "us-east-1"
MAX_TAGS = 50
TAG_KEY = re.compile(r"^[\w.:/=+\-@ ]{1,128}$")
SHUFFLE = random.SystemRandom()


class ServiceError(Exception):
    def __init__(self, type_: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.type, self.status = type_, status


@dataclass
class Resource:
    id: str
    name: str
    created: float
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return f"arn:aws:tagservice:{REGION}:{ACCOUNT}:resource/{self.id}"


class TagService:
    def __init__(self, mode: str) -> None:
        self.port = mode == "port"
        self.resources: dict[str, Resource] = {}
        self.deleted: set[str] = set()
        self.operations: dict[str, Callable[[dict[str, Any]], Awaitable[web.Response]]] = {
            "CreateResource": self.create_resource,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTags": self.list_tags,
            "DescribeResource": self.describe_resource,
            "DeleteResource": self.delete_resource,
        }

    # --- plumbing ------------------------------------------------------------------

    @staticmethod
    def reply(data: object, status: int = 200) -> web.Response:
        return web.Response(
            status=status,
            body=orjson.dumps(data),
            headers={"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": str(uuid.uuid4())},
        )

    async def dispatch(self, request: web.Request) -> web.Response:
        try:
            target = request.headers.get("X-Amz-Target", "")
            service, _, operation = target.partition(".")
            if not request.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 "):
                raise ServiceError(
                    "MissingAuthenticationTokenException", "Missing Authentication Token"
                )
            if service != SERVICE or operation not in self.operations:
                raise ServiceError(
                    "UnknownOperationException", f"Unknown operation {target or '(none)'}"
                )
            try:
                data = orjson.loads(await request.read() or b"{}")
            except orjson.JSONDecodeError:
                raise ServiceError("SerializationException", "Malformed request body") from None
            if not isinstance(data, dict):
                raise ServiceError("SerializationException", "Expected a JSON object")
            return await self.operations[operation](data)
        except ServiceError as exc:
            return self.reply({"__type": exc.type, "message": str(exc)}, exc.status)

    def resource(self, data: dict[str, Any]) -> Resource:
        rid = data.get("ResourceId")
        if not isinstance(rid, str) or not rid:
            raise ServiceError(
                "ValidationException",
                "1 validation error detected: Value null at 'resourceId' failed to satisfy "
                "constraint: Member must not be null",
            )
        found = self.resources.get(rid)
        if found is None:
            raise ServiceError("ResourceNotFoundException", f"Resource {rid} does not exist")
        return found

    @staticmethod
    def tags_of(data: dict[str, Any]) -> dict[str, str]:
        raw = data.get("Tags", [])
        if not isinstance(raw, list) or len(raw) > MAX_TAGS:
            raise ServiceError("ValidationException", f"Tags must be a list of at most {MAX_TAGS}")
        tags: dict[str, str] = {}
        for tag in raw:
            key = tag.get("Key") if isinstance(tag, dict) else None
            value = tag.get("Value", "") if isinstance(tag, dict) else None
            if not isinstance(key, str) or not TAG_KEY.match(key) or not isinstance(value, str):
                raise ServiceError("ValidationException", f"Invalid tag: {tag!r}")
            tags[key] = value
        return tags

    @staticmethod
    def shuffled(tags: dict[str, str]) -> list[dict[str, str]]:
        """The tags as a set: a new random order on every call."""
        items = [{"Key": k, "Value": v} for k, v in tags.items()]
        SHUFFLE.shuffle(items)
        return items

    # --- operations ----------------------------------------------------------------

    async def create_resource(self, data: dict[str, Any]) -> web.Response:
        name = data.get("Name")
        if not isinstance(name, str) or not name:
            raise ServiceError("ValidationException", "Name is required")
        rid = "res-0" + secrets.token_hex(8)
        resource = Resource(rid, name, round(now(), 3), self.tags_of(data))
        self.resources[rid] = resource
        return self.reply(
            {"ResourceId": rid, "ResourceArn": resource.arn, "RequestId": str(uuid.uuid4())}
        )

    async def tag_resource(self, data: dict[str, Any]) -> web.Response:
        resource = self.resource(data)
        resource.tags.update(self.tags_of(data))
        return self.reply({})

    async def untag_resource(self, data: dict[str, Any]) -> web.Response:
        resource = self.resource(data)
        keys = data.get("TagKeys")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise ServiceError("ValidationException", "TagKeys must be a list of strings")
        for key in keys:
            resource.tags.pop(key, None)
        return self.reply({})

    async def list_tags(self, data: dict[str, Any]) -> web.Response:
        resource = self.resource(data)
        body: dict[str, Any] = {"Tags": self.shuffled(resource.tags)}
        if not self.port:  # (b): the port's serializer skips nulls
            body["NextToken"] = None
        return self.reply(body)

    async def describe_resource(self, data: dict[str, Any]) -> web.Response:
        rid = data.get("ResourceId")
        if self.port and rid in self.deleted:  # (a)
            return self.reply(
                {"code": "NotFound", "message": f"Resource '{rid}' was not found"}, 404
            )
        resource = self.resource(data)
        tags = resource.tags
        if self.port:  # (c)
            tags = {k: v for k, v in tags.items() if v != ""}
        return self.reply(
            {
                "Resource": {
                    "ResourceId": resource.id,
                    "Arn": resource.arn,
                    "Name": resource.name,
                    "Status": "ACTIVE",
                    "Tags": self.shuffled(tags),
                    "CreationTime": resource.created,
                },
                "RequestId": str(uuid.uuid4()),
            }
        )

    async def delete_resource(self, data: dict[str, Any]) -> web.Response:
        resource = self.resource(data)
        del self.resources[resource.id]
        self.deleted.add(resource.id)
        return self.reply({})


def build_app(mode: str) -> web.Application:
    service = TagService(mode)

    async def not_found(request: web.Request) -> web.Response:
        return service.reply({"__type": "UnknownOperationException", "message": "Use POST /"}, 404)

    app = web.Application()
    app.add_routes([web.post("/", service.dispatch), web.route("*", "/{tail:.*}", not_found)])
    return app


def main(argv: list[str] | None = None) -> None:
    args = parse_args((__doc__ or "").splitlines()[0], argv)
    run(build_app(args.mode), args.host, args.port)


if __name__ == "__main__":
    main()
