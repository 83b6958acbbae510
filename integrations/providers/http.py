"""The HTTP plumbing every provider shares: one httpx client per provider instance, timeouts,
and the transport-level classification (timeouts and 5xx are transient, 429 is throttling)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx

from .base import ConnectionBroken, RateLimited, Tokens, TransientError, UnexpectedResponse

TIMEOUT = httpx.Timeout(30.0, connect=5.0)
DEFAULT_RETRY_AFTER = 5.0


def make_client() -> httpx.Client:
    return httpx.Client(timeout=TIMEOUT, headers={"User-Agent": "closebooks/0.1"})


def send(client: httpx.Client, method: str, url: str, **kwargs) -> httpx.Response:
    try:
        return client.request(method, url, **kwargs)
    except httpx.TimeoutException:
        raise TransientError(f"{method} {_path(url)} timed out.") from None
    except httpx.TransportError as exc:
        raise TransientError(f"{method} {_path(url)} failed: {type(exc).__name__}.") from None


def retry_after(response: httpx.Response) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return DEFAULT_RETRY_AFTER


def raise_for_transport(response: httpx.Response, vendor: str) -> None:
    """429 and 5xx, whatever the body says."""
    if response.status_code == 429:
        problem = response.headers.get("X-Rate-Limit-Problem", "")
        raise RateLimited(
            f"{vendor} is throttling requests (429{', ' + problem + ' limit' if problem else ''}).",
            retry_after=retry_after(response),
        )
    if response.status_code >= 500:
        raise TransientError(f"{vendor} answered {response.status_code} (server error).")


def json_body(response: httpx.Response, vendor: str) -> object:
    try:
        return loads(response.content)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UnexpectedResponse(
            f"{vendor} answered {response.status_code} with a body that is not JSON "
            f"({response.headers.get('Content-Type', 'no content type')})."
        ) from None


def token_request(client: httpx.Client, config, data: dict, vendor: str, *, current_refresh_token: str = "") -> Tokens:
    """The OAuth 2.0 token endpoint, shared by both grants (authorization code, refresh token). A refresh
    answer without a ``refresh_token`` keeps ``current_refresh_token`` (RFC 6749 §6: the server MAY issue a
    new one; NetSuite does not, QuickBooks Online and Xero do)."""
    response = send(
        client,
        "POST",
        config.token_url,
        data=data,
        auth=(config.client_id, config.client_secret),
        headers={"Accept": "application/json"},
    )
    raise_for_transport(response, vendor)
    body = json_body(response, vendor)
    if response.status_code in (400, 401):
        error = body.get("error", "") if isinstance(body, dict) else ""
        if error in {"invalid_grant", "invalid_client", "unauthorized_client"}:
            raise ConnectionBroken(f"{vendor} refused the credentials ({error}): connect again.")
        raise ConnectionBroken(f"{vendor} refused the token request ({response.status_code} {error}).")
    if response.status_code != 200 or not isinstance(body, dict):
        raise UnexpectedResponse(f"{vendor} token endpoint answered {response.status_code}.")
    try:
        now = datetime.now(UTC)
        refresh_ttl = body.get("x_refresh_token_expires_in")
        return Tokens(
            access_token=str(body["access_token"]),
            refresh_token=str(body.get("refresh_token") or current_refresh_token or body["refresh_token"]),
            access_expires_at=now + timedelta(seconds=int(body["expires_in"])),
            refresh_expires_at=now + timedelta(seconds=int(refresh_ttl)) if refresh_ttl else None,
        )
    except (KeyError, TypeError, ValueError):
        raise UnexpectedResponse(f"{vendor} token response lacks access_token, refresh_token or expires_in.") from None


def _path(url: str) -> str:
    return httpx.URL(url).path


_DECIMAL = re.compile(r'"\\u0000dec:(-?[0-9]+(?:\.[0-9]+)?)"')


def dumps(body: object) -> str:
    """JSON with Decimal amounts written as exact number literals (never through float)."""

    def default(value):
        if isinstance(value, Decimal):
            return f"\u0000dec:{value}"
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")

    return _DECIMAL.sub(r"\1", json.dumps(body, default=default))


def _json_number(text: str) -> Decimal | str:
    # Amounts stay exact (Decimal, never float). A number written with an exponent ("1e5") is kept
    # as its text, so the money parser refuses it by name instead of reading 100000.
    return text if "e" in text or "E" in text else Decimal(text)


def loads(text: str | bytes) -> object:
    return json.loads(text, parse_float=_json_number)
