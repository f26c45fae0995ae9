"""The ``POST /api/bridge`` JSON-RPC methods: deterministic fake AI and speech services.

Each method maps ``params`` to a result dict (the server adds the volatile ``request_id``)
or raises RpcError. Results depend only on the params, so two runs agree.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
VOICE_UNAVAILABLE = -32001

VOICES = (
    {"id": "ana-pt", "name": "Ana", "locale": "pt-PT"},
    {"id": "lukas-de", "name": "Lukas", "locale": "de-CH"},
    {"id": "emma-en", "name": "Emma", "locale": "en-GB"},
)
_WORD = re.compile(r"[^\W\d_]+")


class RpcError(Exception):
    """A JSON-RPC error object: ``{"code": code, "message": message}``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _text(params: dict[str, Any], name: str = "text") -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value.strip():
        raise RpcError(INVALID_PARAMS, f"params.{name} must be a non-empty string")
    return value


def summarize(params: dict[str, Any]) -> dict[str, Any]:
    words = _text(params).split()
    limit = params.get("max_words", 12)
    if not isinstance(limit, int) or limit < 1:
        raise RpcError(INVALID_PARAMS, "params.max_words must be a positive integer")
    summary = " ".join(words[:limit]) + (" ..." if len(words) > limit else "")
    return {"summary": summary, "word_count": len(words), "model": "journal-summarizer-1"}


def suggest_tags(params: dict[str, Any]) -> dict[str, Any]:
    words = [w.casefold() for w in _WORD.findall(_text(params)) if len(w) >= 5]
    ranked = sorted(Counter(words).items(), key=lambda item: (-item[1], item[0]))
    return {"tags": [word for word, _count in ranked[:3]], "confidence": 0.75}


def chat_reply(params: dict[str, Any]) -> str:
    """The assistant's answer to the last user message in ``params.messages``."""
    messages = params.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RpcError(INVALID_PARAMS, "params.messages must be a non-empty list")
    last = messages[-1] if isinstance(messages[-1], dict) else {}
    words = str(last.get("content", "")).split()
    topic = " ".join(words[:5]) or "nothing yet"
    return f"You wrote {len(words)} words about '{topic}'. What made today different? Keep going."


def chat(params: dict[str, Any]) -> dict[str, Any]:
    return {"reply": chat_reply(params), "finish_reason": "stop"}


def chat_chunks(params: dict[str, Any], size: int = 3) -> list[str]:
    """The reply split into streaming deltas of ``size`` words (joined they give the reply)."""
    words = chat_reply(params).split(" ")
    return [" ".join(words[i : i + size]) + " " for i in range(0, len(words), size)]


def voices(params: dict[str, Any]) -> dict[str, Any]:
    return {"voices": [dict(voice) for voice in VOICES]}


def speak(params: dict[str, Any]) -> dict[str, Any]:
    """Fake synthesis; an unknown voice (e.g. "missing-voice") is VOICE_UNAVAILABLE."""
    text = _text(params)
    voice = params.get("voice")
    if voice not in {v["id"] for v in VOICES}:
        raise RpcError(VOICE_UNAVAILABLE, f"voice not available: {voice}")
    audio = hashlib.sha256(f"{voice}:{text}".encode()).digest() * 2
    return {
        "voice": voice,
        "sample_rate": 16000,
        "duration_ms": 320 * len(text.split()),
        "audio_b64": base64.b64encode(audio).decode("ascii"),
    }


METHODS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "ai.summarize": summarize,
    "ai.suggest_tags": suggest_tags,
    "ai.chat": chat,
    "speech.speak": speak,
    "speech.voices": voices,
}


def call(method: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run one method; raises RpcError (METHOD_NOT_FOUND for unknown names)."""
    handler = METHODS.get(method)
    if handler is None:
        raise RpcError(METHOD_NOT_FOUND, "Method not found")
    return handler(params)
