"""The common part of the fake vendors: a threaded HTTP/1.1 server, an OAuth 2.0 authorization
server (authorize screen, code exchange, refresh with optional rotation), sliding-window quotas,
injected failures, and a record of every request."""

from __future__ import annotations

import abc
import base64
import hashlib
import html
import json
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from integrations import contracts
from integrations.providers.http import dumps

DEFAULT_CLIENT_ID = "closebooks-dev-client"
DEFAULT_CLIENT_SECRET = "closebooks-dev-secret"  # noqa: S105 - the fakes' own credentials


@dataclass
class Response:
    status: int
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, (bytes, str)):
            return self.body.encode() if isinstance(self.body, str) else self.body
        return dumps(self.body).encode()


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self):
        return json.loads(self.body or b"null", parse_float=Decimal)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class Injection:
    """A failure to answer instead of the real thing, ``times`` times, for requests whose path
    contains ``match``. ``after_commit`` does the real work first (the vendor saved it) and
    then answers the failure: the response is lost on the way back."""

    match: str
    response: Response
    times: int
    after_commit: bool = False


def pkce_matches(verifier: str, challenge: str) -> bool:
    """RFC 7636 §4.6 for S256: BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge."""
    if not 43 <= len(verifier) <= 128:
        return False
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii", "replace")).digest()).rstrip(b"=").decode()
    return secrets.compare_digest(digest, challenge)


class FakeVendor(abc.ABC):
    """Subclasses implement ``route`` (the vendor's API) and set the quota table."""

    vendor = "fake"
    access_ttl = 3600
    rotate_refresh_tokens = False
    refresh_grace = 0.0  # seconds an old refresh token still works after rotation
    quotas: dict[str, int] = {}  # bucket -> requests per 60 s, per tenant
    concurrency = 0
    require_pkce = False  # True: the authorize request must carry an S256 challenge, the exchange its verifier
    all_scopes: tuple[str, ...] = ()  # the scopes a token issued without the authorize screen holds
    refresh_answer_has_refresh_token = True  # False: a refresh answer carries no new refresh token (NetSuite)

    def __init__(
        self, *, client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET, limits=True, latency=0.0, tenant_id=None
    ):
        self.client_id, self.client_secret = client_id, client_secret
        self.limits = limits
        # Seconds between saving a write and answering it: the window in which a crash loses the answer.
        self.latency = latency
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self.injections: list[Injection] = []
        self.codes: dict[str, dict] = {}
        self.access_tokens: dict[str, dict] = {}
        self.refresh_tokens: dict[str, dict] = {}
        self.windows: dict[tuple[str, str], deque] = defaultdict(deque)
        self.in_flight: dict[str, int] = defaultdict(int)
        self.throttled = 0
        self.tenant_id = tenant_id or self.new_tenant_id()
        self.tenant_name = f"{self.vendor} demo company"
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self, host: str = "127.0.0.1", port: int = 0) -> FakeVendor:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in one write, with Nagle off: no 40 ms delayed-ACK stalls.
            wbufsize = 1 << 16
            disable_nagle_algorithm = True

            def log_message(self, *args):  # quiet: tests and the bench read the record instead
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query={k: v[0] for k, v in parse_qs(parts.query).items()},
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                    at=time.monotonic(),
                )
                response = fake.handle(request)
                payload = response.encoded()
                self.send_response(response.status)
                if payload or response.status not in (204, 302):
                    self.send_header("Content-Type", response.content_type)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = _serve

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name=f"fake-{self.vendor}", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    # ------------------------------------------------------------ test controls

    def inject(self, match: str, status: int, body=None, *, times: int = 1, headers=None, after_commit=False) -> None:
        with self.lock:
            self.injections.append(Injection(match, Response(status, body, dict(headers or {})), times, after_commit))

    def expire_access_tokens(self) -> None:
        with self.lock:
            for token in self.access_tokens.values():
                token["expires"] = 0.0

    def revoke(self) -> None:
        """The user disconnected the app on the vendor's side: every token is dead."""
        with self.lock:
            self.access_tokens.clear()
            self.refresh_tokens.clear()

    def issue_tokens(self) -> dict:
        """Tokens as if the authorization-code flow had just run (tests that skip the pages)."""
        with self.lock:
            return self._issue()

    def received(self, method: str, path_contains: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.method == method and path_contains in r.path]

    # ------------------------------------------------------------ dispatch

    def handle(self, request: Request) -> Response:
        if request.path.startswith("/_fake/"):
            return self.control(request)
        with self.lock:
            self.requests.append(request)
        if request.path.endswith("/authorize"):
            return self.authorize(request)
        if request.path.endswith("/token") or request.path.endswith("/tokens/bearer"):
            return self.token(request)
        try:
            # What the vendor's published schema refuses is refused here too, before anything else.
            contracts.check_http(request.method, request.path, request.query, request.headers, request.body)
        except contracts.ContractViolation as exc:
            return self.contract_error(request, str(exc))
        token = self.authenticate(request)
        if isinstance(token, Response):
            return token
        tenant = self.tenant_of(request, token)
        if isinstance(tenant, Response):
            return tenant
        with self.lock:
            throttled = self.check_quota(request, tenant)
            if throttled is not None:
                self.throttled += 1
                return throttled
            injection = self._take_injection(request)
            self.in_flight[tenant] += 1
        try:
            if injection is not None and not injection.after_commit:
                return injection.response
            response = self.route(request, tenant)
            if self.latency and request.method in ("POST", "PUT"):
                time.sleep(self.latency)
            if injection is not None:
                return injection.response
            return self.decorate(response, tenant)
        finally:
            with self.lock:
                self.in_flight[tenant] -= 1

    def _take_injection(self, request: Request) -> Injection | None:
        for injection in self.injections:
            if injection.times > 0 and injection.match in request.path:
                injection.times -= 1
                return injection
        return None

    def decorate(self, response: Response, tenant: str) -> Response:
        return response

    def contract_error(self, request: Request, message: str) -> Response:
        """The vendor's answer to a request its schema does not allow (each fake answers in its own shape)."""
        return Response(400, {"error": "invalid_request", "error_description": message})

    def control(self, request: Request) -> Response:
        """Cross-process controls for the demo and the bench: state, and a few switches."""
        if request.path == "/_fake/state":
            return Response(200, self.state())
        if request.path == "/_fake/config" and request.method == "POST":
            self.configure(request.json() or {})
            return Response(200, self.state())
        return Response(404, {"error": "unknown control"})

    def configure(self, options: dict) -> None:
        with self.lock:
            if "limits" in options:
                self.limits = bool(options["limits"])
            if options.get("expire_tokens"):
                self.expire_access_tokens()

    def state(self) -> dict:
        with self.lock:
            return {"requests": len(self.requests), "throttled": self.throttled, "tenant_id": self.tenant_id}

    # ------------------------------------------------------------ OAuth 2.0

    def new_tenant_id(self) -> str:
        return secrets.token_hex(8)

    def authorize(self, request: Request) -> Response:
        params = request.query if request.method == "GET" else request.form()
        if params.get("client_id") != self.client_id or not params.get("redirect_uri"):
            return Response(400, "Unknown client_id or missing redirect_uri.", content_type="text/plain")
        if self.require_pkce and (not params.get("code_challenge") or params.get("code_challenge_method") != "S256"):
            return Response(400, "PKCE is required: code_challenge with code_challenge_method=S256.", content_type="text/plain")
        if request.method == "GET":
            hidden = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in params.items())
            page = (
                f"<!doctype html><title>{self.vendor}: authorize</title><h1>Connect closebooks to {self.tenant_name}</h1>"
                f"<p>closebooks asks for: {html.escape(params.get('scope', ''))}</p>"
                f'<form method="post">{hidden}<button name="decision" value="allow">Connect</button> '
                f'<button name="decision" value="deny">Cancel</button></form>'
            )
            return Response(200, page, content_type="text/html; charset=utf-8")
        redirect = params["redirect_uri"]
        if params.get("decision") != "allow":
            query = {"error": "access_denied", "state": params.get("state", "")}
        else:
            code = secrets.token_urlsafe(16)
            with self.lock:
                self.codes[code] = {
                    "redirect_uri": redirect,
                    "expires": time.monotonic() + 600,
                    "code_challenge": params.get("code_challenge", ""),
                    "scope": params.get("scope", ""),
                }
            query = {"code": code, "state": params.get("state", ""), **self.callback_extra()}
        return Response(302, headers={"Location": f"{redirect}{'&' if '?' in redirect else '?'}{urlencode(query)}"})

    def callback_extra(self) -> dict:
        return {}

    def _client_ok(self, request: Request) -> bool:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Basic "):
            return False
        try:
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        except ValueError:
            return False
        return client_id == self.client_id and secret == self.client_secret

    def token(self, request: Request) -> Response:
        if not self._client_ok(request):
            return Response(401, {"error": "invalid_client"})
        form = request.form()
        with self.lock:
            if form.get("grant_type") == "authorization_code":
                grant = self.codes.pop(form.get("code", ""), None)
                if grant is None or grant["expires"] < time.monotonic() or grant["redirect_uri"] != form.get("redirect_uri"):
                    return Response(400, {"error": "invalid_grant"})
                if grant["code_challenge"] and not pkce_matches(form.get("code_verifier", ""), grant["code_challenge"]):
                    return Response(400, {"error": "invalid_grant", "error_description": "PKCE verification failed."})
                return Response(200, self._issue(scope=grant["scope"]))
            if form.get("grant_type") == "refresh_token":
                old = self.refresh_tokens.get(form.get("refresh_token", ""))
                now = time.monotonic()
                if old is None or (old.get("superseded_at") is not None and now - old["superseded_at"] > self.refresh_grace):
                    return Response(400, {"error": "invalid_grant"})
                if self.rotate_refresh_tokens:
                    old.setdefault("superseded_at", now)
                    return Response(200, self._issue(scope=old.get("scope")))
                body = self._issue(refresh_token=form["refresh_token"], scope=old.get("scope"))
                if not self.refresh_answer_has_refresh_token:
                    body.pop("refresh_token", None)
                return Response(200, body)
            return Response(400, {"error": "unsupported_grant_type"})

    def _issue(self, refresh_token: str | None = None, scope: str | None = None) -> dict:
        """Tokens for ``scope`` (None: every scope the fake knows, as for tests that skip the pages)."""
        scopes = set(self.all_scopes) if scope is None else set(scope.split())
        access = self.mint_access_token(refresh_token)
        self.access_tokens[access] = {"expires": time.monotonic() + self.access_ttl, "scopes": scopes}
        if refresh_token is None:
            refresh_token = secrets.token_urlsafe(24)
            self.refresh_tokens[refresh_token] = {"scope": " ".join(sorted(scopes))}
        return self.token_body(access, refresh_token)

    def mint_access_token(self, refresh_token: str | None) -> str:
        """A new access token (opaque here; Xero's are JWTs). ``refresh_token``: the one being used, if any."""
        return secrets.token_urlsafe(24)

    def token_body(self, access: str, refresh: str) -> dict:
        return {"access_token": access, "refresh_token": refresh, "token_type": "bearer", "expires_in": self.access_ttl}

    def authenticate(self, request: Request):
        auth = request.headers.get("authorization", "")
        token = self.access_tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
        if token is None or token["expires"] < time.monotonic():
            return self.unauthorized()
        return token

    def unauthorized(self) -> Response:
        return Response(401, {"error": "invalid_token"})

    def tenant_of(self, request: Request, token: dict):
        return self.tenant_id

    # ------------------------------------------------------------ quotas

    def buckets(self, request: Request) -> list[str]:
        return ["calls"]

    def check_quota(self, request: Request, tenant: str) -> Response | None:
        if not self.limits:
            return None
        if self.concurrency and self.in_flight[tenant] >= self.concurrency:
            return self.throttle(request, "concurrent", 1.0)
        now = request.at
        names = self.buckets(request)
        for name in names:
            window = self.windows[(tenant, name)]
            while window and now - window[0] >= 60.0:
                window.popleft()
            if len(window) >= self.quotas[name]:
                return self.throttle(request, name, 60.0 - (now - window[0]))
        for name in names:
            self.windows[(tenant, name)].append(now)
        return None

    def remaining(self, tenant: str, name: str) -> int:
        window = self.windows[(tenant, name)]
        now = time.monotonic()
        return max(0, self.quotas[name] - sum(1 for t in window if now - t < 60.0))

    @abc.abstractmethod
    def throttle(self, request: Request, bucket: str, wait: float) -> Response: ...

    @abc.abstractmethod
    def route(self, request: Request, tenant: str) -> Response: ...
