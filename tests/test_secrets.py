from __future__ import annotations

from parity.sessions.secrets import is_secret_header, is_secret_name, mask_path


def test_query_secrets_are_masked_and_the_rest_kept() -> None:
    assert mask_path("/api/x?access_token=abc123&page=2") == "/api/x?access_token=***&page=2"
    assert mask_path("/api/x?page=2&q=caf%C3%A9") == "/api/x?page=2&q=caf%C3%A9"
    assert mask_path("/api/x") == "/api/x"
    assert (
        mask_path("/cb?code=1&client_secret=s&api_key=k")
        == "/cb?code=1&client_secret=***&api_key=***"
    )


def test_secret_names_and_headers() -> None:
    assert all(
        is_secret_name(n) for n in ["password", "passphrase", "X-Auth", "sessionId", "apiKey"]
    )
    assert not any(is_secret_name(n) for n in ["page", "title", "tags", "q"])
    assert is_secret_header(b"Authorization") and is_secret_header(b"Cookie")
    assert is_secret_header(b"X-Vault-Session")
    assert not is_secret_header(b"Content-Type")
