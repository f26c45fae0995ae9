"""An infrastructure tool's session against the tagging service: deterministic, stateful.

    python -m tests.apis.tags_client BASE_URL       (or: python tests/apis/tags_client.py)

The same 29 calls in the same order against either mode, all ``POST /`` with the
operation in ``X-Amz-Target``: every ``ResourceId`` comes from a ``CreateResource``
answer (nothing minted is hard-coded), and error answers are tolerated wherever the
modes may differ. Requests carry a SigV4-shaped ``Authorization`` signed with a fixed
date, so the bytes are the same on every run. Only a failed ``CreateResource``, which
everything after depends on, stops it with exit 1.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the `tests` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.apis import HttpClient, Reply

SERVICE = "TagService_20260101"
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AMZ_DATE = "20260101T000000Z"
SCOPE = f"{AMZ_DATE[:8]}/us-east-1/tagservice/aws4_request"


class Failed(Exception):
    """A step the rest of the session depends on did not work."""


def tags(**pairs: str) -> list[dict[str, str]]:
    return [{"Key": key.replace("_", "-"), "Value": value} for key, value in pairs.items()]


class TagTool:
    def __init__(self, base_url: str) -> None:
        self.http = HttpClient(base_url, user_agent="infra-tagger/1.4 aws-sdk-python-style")

    def call(self, operation: str, payload: dict[str, Any]) -> Reply:
        body = json.dumps(payload, separators=(",", ":")).encode()
        target = f"{SERVICE}.{operation}"
        signature = hmac.new(SECRET_KEY, AMZ_DATE.encode() + target.encode() + body, hashlib.sha256)
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": target,
            "X-Amz-Date": AMZ_DATE,
            "Authorization": (
                f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{SCOPE}, "
                "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
                f"Signature={signature.hexdigest()}"
            ),
        }
        return self.http.call("POST", "/", body=body, headers=headers)

    def create(self, name: str, tag_list: list[dict[str, str]]) -> str:
        reply = self.call("CreateResource", {"Name": name, "Tags": tag_list})
        rid = (reply.json() or {}).get("ResourceId") if reply.status == 200 else None
        if not isinstance(rid, str):
            raise Failed(f"CreateResource {name} -> {reply.status}")
        return rid

    def run(self) -> None:
        cache = self.create(
            "build-cache",
            tags(env="prod", team="platform", cost_center="cc-1042", owner="ana", scratch=""),
        )
        media = self.create(
            "media-bucket",
            tags(
                env="staging", team="media", retention="30d", backup="", project="atlas", owner="li"
            ),
        )
        ledger = self.create(
            "ledger-db", tags(env="prod", team="payments", pii="true", owner="ben", backup="daily")
        )
        for rid in (cache, media, ledger):
            self.call("ListTags", {"ResourceId": rid})
        for rid in (cache, media, ledger):
            self.call("DescribeResource", {"ResourceId": rid})

        self.call(
            "TagResource", {"ResourceId": cache, "Tags": tags(tier="gold", region="eu-west-1")}
        )
        self.call(
            "TagResource", {"ResourceId": ledger, "Tags": tags(owner="carol", region="us-east-2")}
        )
        for rid in (cache, ledger):
            self.call("ListTags", {"ResourceId": rid})
        self.call("UntagResource", {"ResourceId": cache, "TagKeys": ["owner", "tier"]})
        self.call("UntagResource", {"ResourceId": media, "TagKeys": ["retention"]})
        for rid in (cache, media):
            self.call("ListTags", {"ResourceId": rid})
        for rid in (cache, media):
            self.call("DescribeResource", {"ResourceId": rid})
        self.call("TagResource", {"ResourceId": media, "Tags": tags(env="prod")})
        self.call("ListTags", {"ResourceId": media})

        self.call("DeleteResource", {"ResourceId": ledger})
        self.call("DescribeResource", {"ResourceId": ledger})  # 400 here, 404 in the port
        self.call("ListTags", {"ResourceId": ledger})  # 400
        self.call("TagResource", {"ResourceId": ledger, "Tags": tags(env="dev")})  # 400
        self.call("DeleteResource", {"ResourceId": ledger})  # 400
        self.call("ListTags", {})  # 400 ValidationException
        self.call("GetTagValues", {"Key": "env"})  # 400 UnknownOperationException
        self.call("DescribeResource", {"ResourceId": cache})


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m tests.apis.tags_client BASE_URL", file=sys.stderr)
        return 2
    tool = TagTool(args[0])
    try:
        tool.run()
    except Failed as exc:
        print(f"tags_client: {exc}", file=sys.stderr)
        return 1
    finally:
        tool.http.close()
    statuses = dict(sorted(tool.http.statuses.items()))
    print(f"tags_client: {tool.http.count} requests, statuses {statuses}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
