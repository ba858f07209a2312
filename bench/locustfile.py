"""Launch-day customers for Locust (`make loadtest`; bench/loadtest.py starts the site, seeds it
and runs this file; it reads the plan that the runner wrote, LOADTEST_PLAN).

Each simulated customer is one of the seeded accounts (e-mail confirmed, a monthly limit set)
and logs in once through the real log-in page. Then, at most once every LOADTEST_PACING seconds
(default 40: four checkouts in ten minutes, inside the 10 per account that tickets.throttle
allows), it:

    browse home, browse competitions  /, /competitions/
    open competition                  the competition's page (the entry form and its token)
    add to basket                     answer the skill question, 1 to 3 lucky-dip tickets
    checkout, start checkout          the checkout page, then reserve (-> the dev payment page)
    pay                               the dev payment page: a debit card; the site signs
                                      `checkout.session.completed` and hands it to the real
                                      webhook view, which fulfils the order
    webhook                           the same session's `checkout.session.completed` delivered
                                      again over HTTP to /webhooks/stripe/, signed with the
                                      webhook secret, as Stripe's at-least-once delivery does: it
                                      must create nothing new
    your tickets                      /api/tickets/user: exactly the tickets bought so far

A request fails when its answer is not the page the customer expects (a 4xx/5xx, a 429 from a
throttle, "busy, please try again", a missing ticket). One competition (the plan's `hot` one) is
small on purpose, so it sells out during the run: a sold-out answer is the site working, so it is
not a failure; it is counted as an `outcome` row ("sold out") and the customer buys elsewhere.
"""

import hashlib
import hmac
import itertools
import json
import os
import random
import re
import secrets
import time

from locust import HttpUser, constant_pacing, task

PLAN = json.loads(open(os.environ["LOADTEST_PLAN"]).read())  # noqa: SIM115 (read once at import)
PACING = float(os.environ.get("LOADTEST_PACING", "40"))
TIMEOUT = float(os.environ.get("LOADTEST_TIMEOUT", "30"))
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
DEV_PAY = re.compile(r"/checkout/dev-pay/([^/]+)/$")
SOLD_OUT_FORM = "disabled>Sold out</button>"
ERROR_MESSAGE = re.compile(r'<p class="message message-error">(.*?)</p>', re.S)
_accounts = itertools.count()


def token(html: str) -> str | None:
    found = CSRF.search(html)
    return found.group(1) if found else None


def signed_completed_event(*, reference: str, amount_pence: int) -> tuple[str, str]:
    """A `checkout.session.completed` for the dev checkout's session of `reference`, and its
    Stripe-Signature header (`t=…,v1=HMAC-SHA256(secret, "t.body")`, Stripe's scheme)."""
    session = {
        "id": f"cs_dev_{reference}",
        "object": "checkout.session",
        "amount_total": amount_pence,
        "currency": "gbp",
        "client_reference_id": reference,
        "metadata": {"order_reference": reference},
        "mode": "payment",
        "payment_intent": f"pi_dev_{reference}_debit",
        "payment_status": "paid",
        "status": "complete",
    }
    body = json.dumps(
        {
            "id": "evt_loadtest_" + secrets.token_hex(12),
            "object": "event",
            "api_version": "2025-01-27",
            "created": int(time.time()),
            "livemode": False,
            "type": "checkout.session.completed",
            "data": {"object": session},
        }
    )
    stamp = int(time.time())
    mac = hmac.new(
        PLAN["webhook_secret"].encode(), f"{stamp}.{body}".encode(), hashlib.sha256
    ).hexdigest()
    return body, f"t={stamp},v1={mac}"


def sold_out(html: str) -> bool:
    """Whether the page tells the customer there are not enough tickets left (SoldOut), or that
    entries are closed (SalesClosed: a competition whose every ticket is sold has ended)."""
    return any(
        phrase in text
        for text in ERROR_MESSAGE.findall(html)
        for phrase in ("is sold out", "tickets left for", "are closed")
    )


def said(html: str) -> str:
    """The error messages on a page, for a failure's description."""
    return " | ".join(ERROR_MESSAGE.findall(html))[:200]


def outcome(environment, name: str) -> None:
    """Count something the site answered correctly but a customer would notice (sold out)."""
    environment.events.request.fire(
        request_type="outcome", name=name, response_time=0, response_length=0, exception=None
    )


class Customer(HttpUser):
    wait_time = constant_pacing(PACING)

    def on_start(self):
        self.client.headers["User-Agent"] = "Fairdraw load test (Locust)"
        self.account = PLAN["customers"][next(_accounts) % len(PLAN["customers"])]
        self.bought: dict[int, int] = {}  # competition id -> tickets this customer holds
        self.sold_out: set[str] = set()
        login = "/account/login/"
        with self.client.get(login, name="log in (page)", catch_response=True) as page:
            csrf = token(page.text)
            if page.status_code != 200 or not csrf:
                page.failure(f"no log-in form ({page.status_code})")
                return
        with self.client.post(
            login,
            data={
                "csrfmiddlewaretoken": csrf,
                "login": self.account["email"],
                "password": PLAN["password"],
            },
            headers={"Referer": self.host + login},
            name="log in",
            catch_response=True,
        ) as answer:
            if answer.status_code != 200 or answer.url.rstrip("/").endswith("login"):
                answer.failure(f"log-in refused ({answer.status_code})")
        # Customers do not all buy in the same second: each starts somewhere in the first
        # pacing interval, then buys once per interval.
        time.sleep(random.uniform(0, PACING))

    def _get(self, path: str, name: str, expect: str | None = None):
        with self.client.get(path, name=name, catch_response=True, timeout=TIMEOUT) as page:
            if page.status_code != 200:
                page.failure(f"HTTP {page.status_code}")
            elif expect and expect not in page.text:
                page.failure(f"missing {expect!r}")
            return page

    def _post(self, path: str, data: dict, name: str):
        return self.client.post(
            path,
            data=data,
            headers={"Referer": self.host + path},
            name=name,
            catch_response=True,
            timeout=TIMEOUT,
        )

    def _choose(self) -> dict | None:
        on_sale = [c for c in PLAN["competitions"] if c["slug"] not in self.sold_out]
        hot = [c for c in on_sale if c["hot"]]
        if hot and random.random() < PLAN["hot_share"]:
            return hot[0]
        others = [c for c in on_sale if not c["hot"]]
        return random.choice(others) if others else None

    @task
    def buy(self):
        self._get("/", "browse home")
        self._get("/competitions/", "browse competitions")
        competition = self._choose()
        if competition is None:
            return
        path = f"/competitions/{competition['slug']}/"
        page = self._get(path, "open competition", expect=competition["title"])
        if page.status_code != 200:
            return
        if SOLD_OUT_FORM in page.text or 'id="enter"' not in page.text:
            self.sold_out.add(competition["slug"])
            outcome(self.environment, "sold out (competition page)")
            return
        csrf = token(page.text)
        quantity = random.randint(1, 3)

        # Add to basket: the skill question answered (correctly), a lucky dip.
        with self._post(
            f"/cart/add/{competition['slug']}/",
            {"csrfmiddlewaretoken": csrf, "answer": competition["answer"], "quantity": quantity},
            "add to basket",
        ) as added:
            if added.status_code == 200 and "/cart/" not in added.url and sold_out(added.text):
                added.success()
                self.sold_out.add(competition["slug"])
                outcome(self.environment, "sold out (add to basket)")
                return
            if added.status_code != 200 or not added.url.endswith("/cart/"):
                added.failure(
                    f"not added: HTTP {added.status_code} at {added.url} {said(added.text)}"
                )
                return

        page = self._get("/checkout/", "checkout", expect="csrfmiddlewaretoken")
        if page.status_code != 200:
            return
        with self._post(
            "/checkout/", {"csrfmiddlewaretoken": token(page.text)}, "start checkout"
        ) as started:
            reference = DEV_PAY.search(started.url)
            if started.status_code == 200 and not reference and sold_out(started.text):
                started.success()
                self.sold_out.add(competition["slug"])
                outcome(self.environment, "sold out (checkout)")
                self._empty_basket(started.text, competition)
                return
            if started.status_code != 200 or not reference:
                started.failure(
                    f"no payment page: HTTP {started.status_code} at {started.url} "
                    + said(started.text)
                )
                self._empty_basket(started.text, competition)
                return
            payment_page = started.text
            reference = reference.group(1)

        with self._post(
            f"/checkout/dev-pay/{reference}/",
            {"csrfmiddlewaretoken": token(payment_page), "action": "pay", "funding": "debit"},
            "pay",
        ) as paid:
            if paid.status_code != 200 or f"/checkout/success/{reference}/" not in paid.url:
                paid.failure(f"not paid: HTTP {paid.status_code} at {paid.url} {said(paid.text)}")
                return
            if "Payment processing" in paid.text or "Your tickets" not in paid.text:
                paid.failure("paid, but no tickets on the success page")
                return
        self.bought[competition["id"]] = self.bought.get(competition["id"], 0) + quantity

        # Stripe delivers at least once: the same session's completion again, over HTTP.
        body, signature = signed_completed_event(
            reference=reference, amount_pence=quantity * competition["price_pence"]
        )
        with self.client.post(
            "/webhooks/stripe/",
            data=body,
            headers={"Content-Type": "application/json", "Stripe-Signature": signature},
            name="webhook",
            catch_response=True,
            timeout=TIMEOUT,
        ) as delivered:
            if delivered.status_code != 200:
                delivered.failure(f"HTTP {delivered.status_code}: {delivered.text[:200]}")

        mine = self._get(f"/api/tickets/user?competitionId={competition['id']}", "your tickets")
        if mine.status_code == 200:
            held = [t for t in mine.json()["tickets"] if t["status"] == "active"]
            if len(held) != self.bought[competition["id"]]:
                self.environment.events.request.fire(
                    request_type="check",
                    name="tickets held = tickets bought",
                    response_time=0,
                    response_length=0,
                    exception=AssertionError(
                        f"{self.account['email']}: {len(held)} tickets in competition "
                        f"{competition['id']}, bought {self.bought[competition['id']]}"
                    ),
                )

    def _empty_basket(self, html: str, competition: dict) -> None:
        """After a checkout that could not reserve, take the line out (as a customer would)."""
        csrf = token(html)
        if csrf:
            with self._post(
                f"/cart/remove/{competition['id']}/",
                {"csrfmiddlewaretoken": csrf},
                "remove from basket",
            ) as removed:
                if removed.status_code != 200:
                    removed.failure(f"HTTP {removed.status_code}")
