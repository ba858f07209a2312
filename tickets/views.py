"""Basket, checkout and the payment webhook: thin views over tickets.services."""

import functools
import logging
import math

import stripe
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import OperationalError
from django.http import Http404, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.selectors import email_verified
from competitions.models import Competition

from . import allocation, cards, payments, pricing, services, throttle
from .cart import Cart
from .exceptions import (
    Busy,
    CodeRefused,
    PaymentFailed,
    ProviderUnavailable,
    Throttled,
    TicketError,
)
from .instant_wins import instant_wins_held
from .models import CardFunding, DiscountRedemption, Order, Ticket

logger = logging.getLogger(__name__)

NUMBERS_PER_PAGE = 100


def _int(value, default=0) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def _competition_on_sale(slug) -> Competition:
    return get_object_or_404(Competition.objects.public().prefetch_related("answers"), slug=slug)


def throttled(action: str):
    """Count each POST against the basket or checkout limits (tickets.throttle); over them,
    a 429 page says why and when to try again, and nothing is changed."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method == "POST":
                try:
                    throttle.check(request, action)
                except Throttled as exc:
                    response = render(
                        request, "tickets/throttled.html", {"message": str(exc)}, status=429
                    )
                    response["Retry-After"] = str(exc.retry_after)
                    return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


# ---------------------------------------------------------------- basket


def cart_detail(request):
    cart = Cart(request.session)
    lines = cart.lines()
    quote = cart.quote(lines, user=request.user)
    return render(
        request,
        "tickets/cart.html",
        {
            "lines": lines,
            "quote": quote,
            "code": cart.code,
            "cards": cards.credit_card_position(
                user=request.user, competition_ids=[x.competition.pk for x in lines]
            ),
            "total": quote.total,
            "ticket_count": sum(x.count for x in lines),
            "reservation_minutes": settings.FAIRDRAW_RESERVATION_MINUTES,
            "email_verified": email_verified(request.user) if lines else True,
        },
    )


@require_POST
@throttled("basket")
def cart_add(request, slug):
    """The entry form: answer + a preset or typed quantity of lucky-dip tickets."""
    competition = _competition_on_sale(slug)
    cart = Cart(request.session)
    current = cart.raw(competition.pk)
    quantity = _int(request.POST.get("quantity_custom")) or _int(request.POST.get("quantity"))
    answer_id = _int(request.POST.get("answer")) or None
    if quantity < 1:
        messages.error(request, "Choose how many tickets you would like.")
        return redirect(competition.get_absolute_url() + "#enter")
    total_lucky = current["quantity"] + quantity
    try:
        services.line_check(
            user=request.user,
            competition=competition,
            answer_id=answer_id,
            quantity=total_lucky,
            numbers=current["numbers"],
        )
    except TicketError as exc:
        messages.error(request, str(exc))
        return redirect(competition.get_absolute_url() + "#enter")
    cart.put(competition.pk, answer_id=answer_id, quantity=total_lucky, numbers=current["numbers"])
    messages.success(
        request, f"Added {quantity} lucky-dip ticket{'s' if quantity != 1 else ''} to your basket."
    )
    return redirect("tickets:cart")


@throttled("basket")
def cart_pick(request, slug):
    """Pick your own numbers: a page of 100 numbers at a time, taken ones shown as taken."""
    competition = _competition_on_sale(slug)
    cart = Cart(request.session)
    current = cart.raw(competition.pk)
    pages = max(math.ceil(competition.max_tickets / NUMBERS_PER_PAGE), 1)
    find = _int(request.GET.get("find"))
    page = (
        (find - 1) // NUMBERS_PER_PAGE + 1
        if 1 <= find <= competition.max_tickets
        else _int(request.GET.get("page"), 1)
    )
    page = min(max(page, 1), pages)

    if request.method == "POST":
        page = min(max(_int(request.POST.get("page"), page), 1), pages)
        on_page = range((page - 1) * NUMBERS_PER_PAGE + 1, page * NUMBERS_PER_PAGE + 1)
        ticked = {_int(n) for n in request.POST.getlist("numbers")}
        # The form shows one page: numbers on it follow the ticks, the rest are kept.
        kept = [n for n in current["numbers"] if n not in on_page]
        numbers = sorted(set(kept) | {n for n in ticked if n in on_page})
        answer_id = _int(request.POST.get("answer")) or current.get("answer")
        try:
            if numbers or current["quantity"]:
                services.line_check(
                    user=request.user,
                    competition=competition,
                    answer_id=answer_id,
                    quantity=current["quantity"],
                    numbers=numbers,
                )
        except TicketError as exc:
            messages.error(request, str(exc))
        else:
            cart.put(
                competition.pk, answer_id=answer_id, quantity=current["quantity"], numbers=numbers
            )
            if request.POST.get("then") == "basket":
                return redirect("tickets:cart")
            messages.success(request, f"Your numbers: {', '.join(map(str, numbers)) or 'none'}.")
        target = request.POST.get("go") or page
        return redirect(f"{reverse('tickets:pick', args=[slug])}?page={target}")

    first = (page - 1) * NUMBERS_PER_PAGE + 1
    last = min(page * NUMBERS_PER_PAGE, competition.max_tickets)
    taken = allocation.taken_among(competition.pk, range(first, last + 1))
    mine = set(current["numbers"])
    grid = [
        {"number": n, "taken": n in taken and n not in mine, "mine": n in mine}
        for n in range(first, last + 1)
    ]
    return render(
        request,
        "tickets/pick.html",
        {
            "competition": competition,
            "status": competition.live_status(timezone.now()),
            "grid": grid,
            "page": page,
            "pages": pages,
            "first": first,
            "last": last,
            "chosen": sorted(mine),
            "answer_id": current.get("answer"),
            "lucky": current["quantity"],
        },
    )


@require_POST
@throttled("basket")
def cart_update(request, competition_id):
    cart = Cart(request.session)
    current = cart.raw(competition_id)
    competition = get_object_or_404(Competition.objects.public(), pk=competition_id)
    quantity = max(_int(request.POST.get("quantity"), current["quantity"]), 0)
    drop = {_int(n) for n in request.POST.getlist("drop")}
    numbers = [n for n in current["numbers"] if n not in drop]
    answer_id = _int(request.POST.get("answer")) or current.get("answer")
    if quantity or numbers:
        try:
            services.line_check(
                user=request.user,
                competition=competition,
                answer_id=answer_id,
                quantity=quantity,
                numbers=numbers,
            )
        except TicketError as exc:
            messages.error(request, str(exc))
            return redirect("tickets:cart")
    cart.put(competition_id, answer_id=answer_id, quantity=quantity, numbers=numbers)
    messages.success(request, "Basket updated.")
    return redirect("tickets:cart")


@require_POST
@throttled("basket")
def cart_code(request):
    """Apply a discount code to the basket, or remove it. The code is checked now, so the
    customer hears at once, and again when the order is made (tickets.services.discounts)."""
    cart = Cart(request.session)
    if request.POST.get("action") == "remove":
        cart.set_code("")
        messages.success(request, "Discount code removed.")
        return redirect("tickets:cart")
    text = pricing.normalise(request.POST.get("code", ""))
    if not text:
        messages.error(request, "Enter a discount code.")
        return redirect("tickets:cart")
    lines = cart.lines()
    try:
        code = pricing.code_find(text)
        problem = pricing.code_refusal(code, user=request.user)
        if problem:
            raise CodeRefused(problem)
        if lines:
            pricing.apply_code(pricing.price_lines(lines), code)
    except CodeRefused as exc:
        messages.error(request, str(exc))
        return redirect("tickets:cart")
    cart.set_code(code.code)
    messages.success(request, f"Code {code} applied: {code.terms}.")
    return redirect("tickets:cart")


@require_POST
@throttled("basket")
def cart_remove(request, competition_id):
    Cart(request.session).remove(competition_id)
    messages.success(request, "Removed from your basket.")
    return redirect("tickets:cart")


# ---------------------------------------------------------------- checkout


@login_required
@throttled("checkout")
def checkout(request):
    cart = Cart(request.session)
    lines = cart.lines()
    if not lines:
        messages.info(request, "Your basket is empty.")
        return redirect("tickets:cart")
    if request.method == "POST":
        try:
            order = services.order_reserve(user=request.user, lines=cart.requests(), code=cart.code)
            url = services.order_checkout_start(
                order=order,
                success_url=_absolute(request, "tickets:success", order.reference)
                + "?session_id={CHECKOUT_SESSION_ID}",
                cancel_url=_absolute(request, "tickets:cancel", order.reference),
            )
        except (TicketError, PaymentFailed) as exc:
            messages.error(request, str(exc))
            return redirect("tickets:checkout")
        cart.clear()
        return redirect(url)
    quote = cart.quote(lines, user=request.user)
    return render(
        request,
        "tickets/checkout.html",
        {
            "lines": lines,
            "quote": quote,
            "total": quote.total,
            "ticket_count": sum(x.count for x in lines),
            "can_purchase": request.user.can_purchase,
            "email_verified": email_verified(request.user),
            "missing_birth_date": request.user.date_of_birth is None,
            # Responsible play: before a first purchase, offer to set a monthly limit.
            "suggest_limit": not request.user.spend_limits.exists()
            and not request.user.orders.exists(),
            # The code of practice on credit cards, said before the customer pays.
            "cards": cards.credit_card_position(
                user=request.user, competition_ids=[x.competition.pk for x in lines]
            ),
            "reservation_minutes": settings.FAIRDRAW_RESERVATION_MINUTES,
        },
    )


def _absolute(request, name, reference) -> str:
    return request.build_absolute_uri(reverse(name, args=[reference]))


def _own_order(request, reference) -> Order:
    return get_object_or_404(Order, reference=reference, user=request.user)


@login_required
def dev_pay(request, reference):
    """The embedded default's stand-in for Stripe's hosted checkout page: pay with a debit,
    credit or prepaid test card, or have the card declined. Either way a signed event goes
    through the real webhook view, as Stripe's would."""
    if not settings.FAIRDRAW_DEV_TOOLS or not isinstance(
        payments.get_gateway(), payments.DevGateway
    ):
        raise Http404("Test payments are off: Stripe is configured.")
    order = _own_order(request, reference)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "cancel":
            return redirect("tickets:cancel", reference)
        funding = request.POST.get("funding") or CardFunding.DEBIT
        if funding not in payments.DEV_CARD_TYPES or action not in ("pay", "decline"):
            messages.error(request, "Choose a card type, then Pay or Decline payment.")
            return redirect("tickets:dev_pay", reference)
        if action == "decline":
            body = payments.dev_payment_failed_event(order, funding)
        else:
            body = payments.dev_checkout_completed_event(order, funding)
        delivery = RequestFactory().post(
            reverse("tickets:stripe_webhook"),
            data=body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=payments.sign(body),
        )
        response = stripe_webhook(delivery)
        if response.status_code != 200:
            messages.error(request, "The test payment was not accepted. Please try again.")
            return redirect("tickets:dev_pay", reference)
        if action == "decline":
            messages.error(
                request, "Your card was declined and nothing was taken. Try again or cancel."
            )
            return redirect("tickets:dev_pay", reference)
        return redirect("tickets:success", reference)
    lines = order.lines.select_related("competition")
    return render(
        request,
        "tickets/dev_pay.html",
        {
            "order": order,
            "lines": lines,
            "now": timezone.now(),
            "card_types": [(value, CardFunding(value).label) for value in payments.DEV_CARD_TYPES],
            "cards": cards.credit_card_position(
                user=request.user, competition_ids=[x.competition_id for x in lines]
            ),
        },
    )


@login_required
def checkout_success(request, reference):
    order = _own_order(request, reference)
    refund = order.refunds.first() if order.status == Order.Status.REFUNDED else None
    tickets = order.tickets.issued().select_related("competition").order_by("competition", "number")
    tickets = list(tickets)
    won = instant_wins_held(tickets)
    groups: dict[int, dict] = {}
    for ticket in tickets:
        group = groups.setdefault(
            ticket.competition_id, {"competition": ticket.competition, "tickets": []}
        )
        ticket.instant_win = won.get(ticket.pk)
        group["tickets"].append(ticket)
    return render(
        request,
        "tickets/success.html",
        {
            "order": order,
            "refund": refund,
            "groups": list(groups.values()),
            "processing": order.status in (Order.Status.PENDING,),
            "invalid": any(t.status == Ticket.Status.INVALID for t in tickets),
            "instant_wins": [t for t in tickets if t.instant_win],
        },
    )


@login_required
def checkout_cancel(request, reference):
    """Back from the payment page without paying: the numbers go back on sale and the basket
    is filled again so the customer can try once more."""
    order = _own_order(request, reference)
    if order.status == Order.Status.PENDING:
        # Releasing also closes the Stripe checkout, after commit (services.order_release).
        released = services.order_release(
            order_id=order.pk, reason=Order.Status.CANCELLED, only_if_lapsed=False
        )
        if released:
            cart = Cart(request.session)
            redemption = DiscountRedemption.objects.filter(order=order).select_related("code")
            if redemption := redemption.first():
                cart.set_code(redemption.code.code)
            for line in order.lines.all():
                chosen = list(line.chosen_numbers or [])
                cart.put(
                    line.competition_id,
                    answer_id=line.answer_id,
                    quantity=line.quantity - len(chosen),
                    numbers=chosen,
                )
        order.refresh_from_db()
    return render(request, "tickets/cancelled.html", {"order": order})


# ---------------------------------------------------------------- webhook


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """Stripe's (or the dev checkout's) events: verified, recorded, processed once."""
    try:
        event = payments.verify_event(request.body, request.headers.get("Stripe-Signature", ""))
    except stripe.SignatureVerificationError as exc:
        logger.warning("Webhook refused: invalid signature (%s)", exc)
        return HttpResponseBadRequest("invalid signature")
    except ValueError as exc:  # payments.InvalidEvent, or a body that is not UTF-8
        logger.warning("Webhook refused: invalid payload (%s)", exc)
        return HttpResponseBadRequest("invalid payload")
    try:
        outcome = services.payment_event_handle(event=event)
    except (Busy, OperationalError):
        logger.warning("Webhook %s deferred: database busy", event.get("id"))
        return HttpResponse("busy, retry", status=503)  # Stripe retries
    except ProviderUnavailable as exc:
        logger.warning("Webhook %s deferred: %s", event.get("id"), exc)
        return HttpResponse("payment provider unavailable, retry", status=503)
    return JsonResponse({"received": event["id"], "outcome": outcome})
