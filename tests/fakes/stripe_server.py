"""A local fake of the few Stripe API endpoints Fairdraw uses, at the HTTP boundary.

Tests point the real `stripe` SDK at it (`STRIPE_API_BASE`), so the SDK builds and sends its
real form-encoded requests and parses real-shaped JSON; the fake records every request so a
test can assert what was sent. It listens on 127.0.0.1 only and never reaches the network.

It also plays Stripe's hosted Checkout page for browser tests: a session's `url` is a page on
the fake whose Pay button completes the session, delivers a `checkout.session.completed`
event signed with `webhook_secret` to `webhook_url` (as Stripe would, over HTTP, before the
customer is sent back) and redirects the browser to the session's `success_url`.
"""

import hashlib
import hmac
import html
import itertools
import json
import ssl
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl


def _unflatten(pairs) -> dict:
    """Stripe's `a[b][0][c]=x` form encoding back into nested dicts and lists."""
    root: dict = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node = root
        for part, following in itertools.pairwise(parts):
            child = [] if following.isdigit() else {}
            if isinstance(node, list):
                while len(node) <= int(part):
                    node.append(child)
                node = node[int(part)]
            else:
                node = node.setdefault(part, child)
        leaf = parts[-1]
        if isinstance(node, list):
            while len(node) <= int(leaf):
                node.append(None)
            node[int(leaf)] = value
        else:
            node[leaf] = value
    return root


@dataclass
class Recorded:
    method: str
    path: str
    params: dict
    headers: dict


@dataclass
class FakeStripe:
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    sessions: dict[str, dict] = field(default_factory=dict)
    refunds: dict[str, dict] = field(default_factory=dict)
    payment_intents: dict[str, dict] = field(default_factory=dict)
    fail_refunds: bool = False
    unavailable: bool = False  # every request answers 503, as in a Stripe outage
    fail_next: int = 0  # the next this many requests answer 503 (a short outage)
    # Where Pay on the hosted page delivers its event (empty: nowhere), and what it answered.
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_ssl_context: ssl.SSLContext | None = None
    deliveries: list[tuple[int, str]] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _idempotent: dict[str, dict] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def calls(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def add_payment(self, intent_id: str, *, amount: int, funding: str = "debit") -> dict:
        """A succeeded card payment, as Checkout leaves it: a PaymentIntent whose latest charge
        was paid by a card of `funding` type ("credit", "debit", "prepaid", "unknown")."""
        charge_id = f"ch_test_{next(self._ids):06d}"
        self.payment_intents[intent_id] = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "currency": "gbp",
            "status": "succeeded",
            "latest_charge": {
                "id": charge_id,
                "object": "charge",
                "amount": amount,
                "paid": True,
                "payment_intent": intent_id,
                "payment_method_details": {
                    "type": "card",
                    "card": {"brand": "visa", "country": "GB", "funding": funding, "last4": "4242"},
                },
            },
        }
        return self.payment_intents[intent_id]

    def complete_session(self, session_id: str, *, payment_intent: str = "") -> dict:
        """The customer paid on the hosted page: the session is complete (Stripe then sends
        `checkout.session.completed`, which tests deliver themselves)."""
        session = self.sessions[session_id]
        session.update(
            status="complete",
            payment_status="paid",
            payment_intent=payment_intent or f"pi_test_{next(self._ids):06d}",
        )
        return session

    # ------------------------------------------------------------ the hosted Checkout page

    def checkout_page(self, session_id: str) -> str | None:
        session = self.sessions.get(session_id)
        if session is None:
            return None
        pounds = f"£{int(session['amount_total']) / 100:.2f}"
        return (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<title>Fake Stripe Checkout</title></head><body>"
            "<h1>Fake Stripe Checkout</h1>"
            f"<p>Session {html.escape(session_id)}: {html.escape(pounds)}</p>"
            f"<form method='post' action='/c/pay/{html.escape(session_id)}'>"
            f"<button type='submit'>Pay {html.escape(pounds)}</button></form></body></html>"
        )

    def pay(self, session_id: str, *, funding: str = "debit") -> str:
        """The customer paid on the hosted page: complete the session, deliver the signed
        `checkout.session.completed` event to the webhook, and return where the browser goes
        next (the session's success URL)."""
        with self._lock:
            session = self.complete_session(session_id)
            self.add_payment(
                session["payment_intent"], amount=session["amount_total"], funding=funding
            )
            event = {
                "id": f"evt_test_{next(self._ids):06d}",
                "object": "event",
                "api_version": "2025-01-27",
                "created": int(time.time()),
                "livemode": False,
                "type": "checkout.session.completed",
                "data": {"object": dict(session)},
            }
        if self.webhook_url:
            self.deliveries.append(self.deliver(event))
        return session["success_url"]

    def deliver(self, event: dict) -> tuple[int, str]:
        """POST `event` to `webhook_url` signed as Stripe signs: `Stripe-Signature:
        t=<ts>,v1=<HMAC-SHA256(secret, "<ts>.<body>")>`. Returns (status, body)."""
        payload = json.dumps(event).encode()
        timestamp = int(time.time())
        digest = hmac.new(
            self.webhook_secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256
        ).hexdigest()
        request = urllib.request.Request(
            self.webhook_url,
            data=payload,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": f"t={timestamp},v1={digest}",
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            },
        )
        try:
            with urllib.request.urlopen(
                request, timeout=30, context=self.webhook_ssl_context
            ) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def handle(self, method: str, path: str, params: dict, headers: dict) -> tuple[int, dict]:
        with self._lock:
            self.requests.append(Recorded(method, path, params, headers))
            key = headers.get("idempotency-key")
            if key and (method, path, key) in self._idempotent:
                return 200, self._idempotent[(method, path, key)]
            status, body = self._route(method, path, params)
            if key and status == 200:
                self._idempotent[(method, path, key)] = body
            return status, body

    def _route(self, method, path, params):
        if self.fail_next > 0:
            self.fail_next -= 1
            return 503, {"error": {"type": "api_error", "message": "Service unavailable."}}
        if self.unavailable:
            return 503, {"error": {"type": "api_error", "message": "Service unavailable."}}
        if method == "GET" and path.startswith("/v1/payment_intents/"):
            intent = self.payment_intents.get(path.rsplit("/", 1)[-1])
            if not intent:
                return _missing("payment_intent")
            expand = params.get("expand") or []
            if "latest_charge" not in (expand.values() if isinstance(expand, dict) else expand):
                intent = {**intent, "latest_charge": intent["latest_charge"]["id"]}
            return 200, intent
        if method == "POST" and path == "/v1/checkout/sessions":
            session_id = f"cs_test_{next(self._ids):06d}"
            total = sum(
                int(item["price_data"]["unit_amount"]) * int(item["quantity"])
                for item in params.get("line_items", [])
            )
            session = {
                "id": session_id,
                "object": "checkout.session",
                "url": f"{self.url}/c/pay/{session_id}",
                "status": "open",
                "payment_status": "unpaid",
                "mode": params.get("mode"),
                "amount_total": total,
                "currency": params["line_items"][0]["price_data"]["currency"],
                "client_reference_id": params.get("client_reference_id"),
                "metadata": params.get("metadata", {}),
                "expires_at": int(params.get("expires_at", time.time() + 86400)),
                "payment_intent": None,
                "success_url": params.get("success_url"),
                "cancel_url": params.get("cancel_url"),
            }
            self.sessions[session_id] = session
            return 200, session
        if method == "GET" and path.startswith("/v1/checkout/sessions/"):
            session = self.sessions.get(path.rsplit("/", 1)[-1])
            return (200, session) if session else _missing("checkout.session")
        if (
            method == "POST"
            and path.startswith("/v1/checkout/sessions/")
            and path.endswith("/expire")
        ):
            session = self.sessions.get(path.split("/")[-2])
            if not session:
                return _missing("checkout.session")
            if session["status"] != "open":  # Stripe's answer, word for word
                message = (
                    'Only Checkout Sessions with a status in ["open"] can be expired. '
                    f"This Checkout Session has a status of `{session['status']}`."
                )
                return 400, {"error": {"type": "invalid_request_error", "message": message}}
            session["status"] = "expired"
            return 200, session
        if method == "GET" and path == "/v1/refunds":
            intent = params.get("payment_intent")
            found = [
                r for r in self.refunds.values() if not intent or r["payment_intent"] == intent
            ]
            return 200, {"object": "list", "url": path, "has_more": False, "data": found}
        if method == "POST" and path == "/v1/refunds":
            if self.fail_refunds:
                return 402, {"error": {"type": "invalid_request_error", "message": "Declined."}}
            refund_id = f"re_test_{next(self._ids):06d}"
            refund = {
                "id": refund_id,
                "object": "refund",
                "amount": int(params["amount"]),
                "currency": "gbp",
                "payment_intent": params.get("payment_intent"),
                "metadata": params.get("metadata", {}),
                "status": "succeeded",
            }
            self.refunds[refund_id] = refund
            return 200, refund
        return 404, {"error": {"type": "invalid_request_error", "message": f"No route {path}"}}


def _missing(kind):
    return 404, {"error": {"type": "invalid_request_error", "message": f"No such {kind}"}}


def start() -> tuple[FakeStripe, ThreadingHTTPServer]:
    fake = FakeStripe()

    class Handler(BaseHTTPRequestHandler):
        def _hosted_checkout(self, method, path) -> bool:
            if not path.startswith("/c/pay/"):
                return False
            session_id = path.rsplit("/", 1)[-1]
            if session_id not in fake.sessions:
                self.send_error(404)
            elif method == "GET":
                data = fake.checkout_page(session_id).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            else:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(303)
                self.send_header("Location", fake.pay(session_id))
                self.send_header("Content-Length", "0")
                self.end_headers()
            return True

        def _serve(self, method):
            path, _, query = self.path.partition("?")
            if self._hosted_checkout(method, path):
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else query
            params = _unflatten(parse_qsl(body, keep_blank_values=True))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, payload = fake.handle(method, path, params, headers)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", f"req_fake_{len(fake.requests)}")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._serve("GET")

        def do_POST(self):
            self._serve("POST")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake, server
