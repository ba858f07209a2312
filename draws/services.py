"""Every state change around a competition's draw (docs/architecture.md §4), one transaction each.

The life of a draw:
1. Activation commits to the secret seed (`competitions.services.competition_activate`
   sends `competition_activating`; `draws.receivers.commit_to_seed` answers it).
2. At close the entry ledger is frozen (`draw_freeze_ledger`): its SHA-256 and entry count
   are stored on the competition's one `Draw` row (status pending) and published at once.
   The periodic job does this for every competition that has ended or sold out; a draw of a
   competition nobody froze yet freezes it first, in the same transaction.
   The freeze is the one full read of the ledger; on PostgreSQL it also records the ledger's
   version (`LedgerVersion`, kept by a trigger on every ticket change) and where each block
   of the ledger starts.
3. The draw (`draw_perform`, `draw_perform_manual`) must be made against the frozen ledger.
   When the version is the frozen one, the ledger is proved unchanged and the draw reads only
   the winning positions. Otherwise (a changed version, or SQLite) it re-hashes the ledger
   while picking, and refuses (`LedgerChanged`, operators alerted) when it differs from the
   frozen one: a ticket changed after close never silently changes the result. Staff may
   re-freeze with a logged reason (`draw_refreeze_ledger`). The winners are recorded by the
   winners app, answering the `prizes_won` hook (draws.signals).

When a draw may happen: automatic draws (beat) wait for the advertised `draw_at` and need
automatic draw enabled; staff (admin button, `manage.py draw`) may draw any competition whose
entries have closed, even before `draw_at`: the ledger is frozen at close and the seed was
committed at activation, so the moment of the draw cannot change who wins.

Exactly one draw: the competition row is locked (a short `lock_timeout` on PostgreSQL turns a
stuck lock into `DrawBusy`, which tasks retry), the status is claimed with a compare-and-set
update, and the database allows one draw row per competition. Any failure rolls the whole draw
back; the failure itself is then logged and the operators alerted in a transaction of its own.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from competitions.lifecycle import LIVE, Status
from competitions.models import Competition, MinimumOutcome, Prize
from competitions.services import competition_sync_statuses
from core.audit import audit_record
from notifications.outbox import admin_alert
from tickets.entrants import entrant_broadcast_start
from tickets.models import Ticket

from . import events, fairness
from .beacon import (
    BeaconInvalid,
    BeaconNotYet,
    BeaconRound,
    BeaconUnavailable,
    beacon_current,
    beacon_for_chain,
    round_at_or_after,
    round_time,
)
from .exceptions import (
    AlreadyDrawn,
    BeaconPending,
    BeaconRefused,
    DrawBusy,
    DrawError,
    DrawNotDue,
    LedgerChanged,
    ManualEntryInvalid,
)
from .minimum import draw_allowed_below_minimum, minimum_outcomes_apply
from .models import Draw, DrawLogEntry, Redraw
from .selectors import (
    ledger_freeze,
    ledger_index_of,
    ledger_owners,
    ledger_pick,
    ledger_scan,
    ledger_version,
)
from .signals import prizes_won

logger = logging.getLogger(__name__)

# How long a draw waits for the competition's row lock before giving up (PostgreSQL).
LOCK_TIMEOUT = "5s"


def _log(competition, action: str, message: str, *, by=None, draw=None, **data) -> DrawLogEntry:
    """Append to the competition's public draw log; a step a member of staff took is also
    written to the back-office audit log."""
    if by is not None:
        audit_record(actor=by, action=f"draw.{action}", obj=competition, after=data, note=message)
    return DrawLogEntry.objects.create(
        competition=competition, draw=draw, actor=by, action=action, message=message, data=data
    )


def _lock_competition(competition_id: int) -> Competition:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
    try:
        return Competition.objects.select_for_update().get(pk=competition_id)
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) == "55P03":  # lock_not_available
            raise DrawBusy("Another draw of this competition is in progress.") from error
        raise


def _check_drawable(competition: Competition, *, mode: str, now) -> None:
    if competition.status == Status.DRAWN:
        raise AlreadyDrawn(f"“{competition.title}” has already been drawn.")
    live = competition.live_status(now)
    if live != Status.ENDED:
        raise DrawNotDue(f"“{competition.title}” is {live.label.lower()}, not ended.")
    if mode == Draw.Mode.AUTOMATIC:
        if not competition.auto_draw_enabled:
            raise DrawNotDue(f"Automatic draw is disabled for “{competition.title}”.")
        if now < competition.draw_at:
            raise DrawNotDue(
                f"“{competition.title}” is drawn automatically at "
                f"{timezone.localtime(competition.draw_at):%Y-%m-%d %H:%M}."
            )
        if _below_minimum(competition) and not _drawn_anyway(competition):
            # The competition's outcome below the minimum (draws.minimum) decides instead.
            raise DrawNotDue(
                f"“{competition.title}” has {competition.tickets_sold} of the "
                f"{competition.min_tickets} entries it needs: extend it or cancel it (or draw "
                "it by hand)."
            )


def _below_minimum(competition: Competition) -> bool:
    return bool(competition.min_tickets) and competition.tickets_sold < competition.min_tickets


def _drawn_anyway(competition: Competition) -> bool:
    return competition.minimum_outcomes.filter(outcome=MinimumOutcome.DRAW_ANYWAY).exists()


# ---------------------------------------------------------------- the beacon round


def beacon_round_rule(*, close, now) -> int:
    """The round a draw uses: the first at or after the close plus the margin. A close already
    past (a date moved back after close, a competition activated before beacon-bound draws)
    counts from now instead, so the round announced is always one nobody has seen yet."""
    margin = timedelta(seconds=settings.FAIRDRAW_BEACON_MARGIN_SECONDS)
    return round_at_or_after(max(close, now) + margin)


@transaction.atomic
def beacon_round_announce(*, competition: Competition, by=None, now=None, reason: str) -> int:
    """Fix the beacon round of a competition's draw by the rule and publish it (stored on the
    competition, logged publicly). Called on activation, when the close moves, and for a
    competition activated before draws were bound to a beacon."""
    now = now or timezone.now()
    beacon = beacon_current()
    previous = (competition.beacon_chain, competition.beacon_round)
    number = beacon_round_rule(close=competition.ends_at, now=now)
    if previous == (beacon.chain, number):
        return number
    competition.beacon_chain, competition.beacon_round = beacon.chain, number
    Competition.objects.filter(pk=competition.pk).update(
        beacon_chain=beacon.chain, beacon_round=number
    )
    expected = round_time(number)
    moved = previous[1] is not None
    _log(
        competition,
        "beacon_round_moved" if moved else "beacon_round_announced",
        (
            f"Beacon round moved from {previous[1]} to {number} ({reason})"
            if moved
            else f"The draw will use {beacon.name} round {number}"
        )
        + f", published at {expected:%Y-%m-%d %H:%M:%S} UTC.",
        by=by,
        beacon=beacon.name,
        chain=beacon.chain,
        round=number,
        expected_at=expected.isoformat(),
        previous_round=previous[1],
        reason=reason,
        demo=beacon.demo,
    )
    return number


def _beacon_overdue(competition: Competition, error: Exception, *, now) -> None:
    """No relay has answered with a round that is long due: tell the operators (once a round)."""
    due = round_time(competition.beacon_round)
    if now - due < timedelta(seconds=settings.FAIRDRAW_BEACON_ALERT_AFTER_SECONDS):
        return
    try:
        with transaction.atomic():
            admin_alert(
                subject=f"Beacon round unavailable: {competition.title}",
                message=f"The draw of “{competition.title}” waits for beacon round "
                f"{competition.beacon_round} (due {due:%Y-%m-%d %H:%M:%S} UTC), which no relay "
                f"has served for {int((now - due).total_seconds() // 60)} minutes: {error}\n"
                "The draw happens by itself as soon as a relay answers; check "
                "FAIRDRAW_DRAND_RELAYS and the network.",
                key=f"beacon-unavailable-{competition.pk}-{competition.beacon_round}",
            )
    except Exception:
        logger.exception("Could not alert about the beacon of competition %s", competition.pk)


def _beacon_fetch(competition: Competition, *, now, by=None) -> BeaconRound:
    """The announced round, fetched and verified, outside any transaction (relays may be slow;
    checking a BLS signature takes CPU). Waiting, unreachable relays and a refused answer are
    `BeaconPending` / `BeaconRefused`."""
    if competition.beacon_round is None:  # activated before draws were bound to a beacon
        with transaction.atomic():
            locked = _lock_competition(competition.pk)
            if locked.beacon_round is None:
                beacon_round_announce(
                    competition=locked, by=by, now=now, reason="activated before beacon rounds"
                )
            competition = locked
    provider = beacon_for_chain(competition.beacon_chain)
    if provider is None:
        raise BeaconRefused(
            f"“{competition.title}” was announced on beacon chain {competition.beacon_chain}, "
            "which this site cannot fetch (FAIRDRAW_BEACON changed since activation?)."
        )
    try:
        return provider.fetch(competition.beacon_round, now=now)
    except BeaconNotYet as error:
        raise BeaconPending(f"Waiting for the beacon: {error} The draw happens then.") from error
    except BeaconUnavailable as error:
        _beacon_overdue(competition, error, now=now)
        raise BeaconPending(
            f"Waiting for beacon round {competition.beacon_round}: {error}"
        ) from error
    except BeaconInvalid as error:
        raise BeaconRefused(str(error)) from error


def _freeze(competition: Competition, draw: Draw | None, *, by, now) -> Draw:
    """Hash the ledger now and record it on the competition's draw row (created if needed)."""
    scan = ledger_freeze(competition.pk)
    if draw is None:
        draw = Draw(competition=competition, status=Draw.Status.PENDING)
    draw.seed_commitment = competition.seed_commitment
    _record_freeze(draw, scan)
    draw.ledger_frozen_at = now
    draw.save()
    _log(
        competition,
        "ledger_frozen",
        f"Entry ledger frozen with {scan.count} entries.",
        by=by,
        draw=draw,
        ledger_hash=scan.ledger_hash,
        entry_count=scan.count,
    )
    return draw


def _record_freeze(draw: Draw, scan) -> None:
    draw.ledger_hash, draw.entry_count = scan.ledger_hash, scan.count
    draw.ledger_version, draw.ledger_marks = scan.version, [list(mark) for mark in scan.marks]
    if draw.competition.one_prize_per_customer:
        # The owners list is committed with the ledger (a second read, this option only).
        draw.owners_hash = ledger_owners(draw.competition_id).owners_hash


def _ledger_unchanged(draw: Draw) -> bool:
    """Whether the ledger is provably the frozen one without reading it: its version has not
    moved since the freeze. The competition's row lock, held by the draw, keeps it so until
    the draw commits (every ledger change takes that lock first)."""
    return draw.ledger_version is not None and ledger_version(draw.competition_id) == (
        draw.ledger_version
    )


@transaction.atomic
def draw_freeze_ledger(*, competition: Competition, by=None, now=None) -> Draw:
    """Freeze the entry ledger of a closed competition (idempotent: a frozen one is kept)."""
    now = now or timezone.now()
    competition = _lock_competition(competition.pk)
    if competition.status == Status.DRAWN:
        raise AlreadyDrawn(f"“{competition.title}” has already been drawn.")
    if competition.live_status(now) != Status.ENDED:
        raise DrawNotDue(f"Entries for “{competition.title}” have not closed.")
    draw = Draw.objects.filter(competition=competition).first()
    if draw is not None and draw.ledger_frozen_at is not None:
        return draw
    return _freeze(competition, draw, by=by, now=now)


@transaction.atomic
def draw_refreeze_ledger(*, competition: Competition, reason: str, by=None, now=None) -> Draw:
    """Replace a frozen ledger that no longer matches the tickets (after staff investigated a
    `LedgerChanged` refusal). Public and logged with both hashes and the reason."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ManualEntryInvalid("Say why the entry ledger is frozen again.")
    competition = _lock_competition(competition.pk)
    _check_drawable(competition, mode=Draw.Mode.ADMIN, now=now)
    draw = Draw.objects.filter(competition=competition).first()
    if draw is None or draw.ledger_frozen_at is None:
        return _freeze(competition, draw, by=by, now=now)
    if draw.is_done:
        raise AlreadyDrawn(f"“{competition.title}” has already been drawn.")
    before = (draw.ledger_hash, draw.entry_count)
    scan = ledger_freeze(competition.pk)
    _record_freeze(draw, scan)
    draw.ledger_frozen_at = now
    draw.save(
        update_fields=[
            "ledger_hash",
            "entry_count",
            "ledger_version",
            "ledger_marks",
            "owners_hash",
            "ledger_frozen_at",
        ]
    )
    _log(
        competition,
        "ledger_refrozen",
        f"Entry ledger frozen again with {scan.count} entries (was {before[1]}): {reason}",
        by=by,
        draw=draw,
        reason=reason,
        previous_ledger_hash=before[0],
        previous_entry_count=before[1],
        ledger_hash=scan.ledger_hash,
        entry_count=scan.count,
    )
    admin_alert(
        subject=f"Entry ledger re-frozen: {competition.title}",
        message=f"{by or 'System'} froze the entry ledger again: {reason}. "
        f"Entries {before[1]} → {scan.count}; hash {before[0]} → {scan.ledger_hash}.",
        key=f"ledger-refrozen-{competition.pk}-{scan.ledger_hash[:16]}",
    )
    return draw


def _perform(**kwargs) -> Draw:
    """The draw transaction. Work queued for after the commit (notification dispatch) cannot
    undo a committed draw: an error there is logged, and the draw is still the result."""
    committed: dict = {}
    try:
        with transaction.atomic():
            transaction.on_commit(lambda: committed.setdefault("yes", True))  # runs first
            committed["draw"] = _perform_in_transaction(**kwargs)
    except Exception:
        if "yes" not in committed:
            raise
        logger.exception("Draw %s committed; an after-commit step failed", committed["draw"].pk)
    return committed["draw"]


def _perform_in_transaction(
    *, competition, mode, by, beacon: BeaconRound | None, now, manual_number=None, reason=""
) -> Draw:
    competition = _lock_competition(competition.pk)
    _check_drawable(competition, mode=mode, now=now)
    if beacon is not None and (beacon.chain, beacon.round) != (
        competition.beacon_chain,
        competition.beacon_round,
    ):
        raise BeaconPending(
            f"The beacon round of “{competition.title}” moved to {competition.beacon_round} "
            "while the draw fetched the old one: the draw waits for the new one."
        )
    entropy = beacon.randomness if beacon is not None else ""
    draw = Draw.objects.filter(competition=competition).first()
    if draw is not None and draw.is_done:
        raise AlreadyDrawn(f"“{competition.title}” has already been drawn.")
    if draw is None or draw.ledger_frozen_at is None:
        draw = _freeze(competition, draw, by=by, now=now)
    marks = draw.ledger_marks if _ledger_unchanged(draw) else None

    fixed: tuple[int, ...] = ()
    if mode == Draw.Mode.MANUAL:
        chosen = Ticket.objects.filter(
            competition=competition, number=manual_number, status=Ticket.Status.ACTIVE
        ).first()
        if chosen is None:
            raise ManualEntryInvalid(
                f"Ticket #{manual_number} is not a valid entry of “{competition.title}”."
            )
        fixed = (ledger_index_of(competition.pk, manual_number, marks or ()),)

    prizes = list(competition.prizes.filter(kind=Prize.Kind.DRAW).order_by("position"))
    owners = None
    if competition.one_prize_per_customer:
        # One prize per customer (docs/architecture.md §4, 8): the owner rule needs every
        # entry's owner, so the ledger is read in full (no one-read shortcut), and its owners
        # list must be the one committed at the freeze. At most one prize per owner.
        owners = _owners_as_frozen(competition, draw)
        prizes, marks = prizes[: owners.owner_count], None
    indexes = fairness.winning_indexes(
        seed=competition.draw_seed,
        ledger_hash=draw.ledger_hash,
        entropy=entropy,
        count=draw.entry_count,
        prizes=len(prizes),
        fixed=fixed,
        owner_of=owners.labels.__getitem__ if owners else None,
    )
    picked = ledger_pick(competition.pk, indexes, marks) if marks is not None else None
    if picked is None or len(picked) != len(indexes):
        # Not provably unchanged: one pass re-hashes the ledger and notes the winning tickets.
        scan = ledger_scan(competition.pk, pick=indexes)
        if (scan.ledger_hash, scan.count) != (draw.ledger_hash, draw.entry_count):
            raise LedgerChanged(
                f"The entry ledger of “{competition.title}” changed after it was frozen at "
                f"{timezone.localtime(draw.ledger_frozen_at):%Y-%m-%d %H:%M}: now {scan.count} "
                f"entries hashing to {scan.ledger_hash}, frozen {draw.entry_count} entries "
                f"hashing to {draw.ledger_hash}. Nothing was drawn."
            )
        picked = scan.picked

    # Compare-and-set claim: only one caller moves the competition from live to drawn.
    claimed = Competition.objects.filter(pk=competition.pk, status__in=LIVE).update(
        status=Status.DRAWN, updated_at=now
    )
    if claimed != 1:
        raise AlreadyDrawn(f"“{competition.title}” has already been drawn.")

    by_id = Ticket.objects.select_related("user").in_bulk([picked[i][0] for i in indexes])
    tickets = [by_id[picked[i][0]] for i in indexes]
    draw.mode = mode
    draw.status = Draw.Status.COMPLETED if tickets else Draw.Status.NO_ENTRIES
    draw.performed_by = by
    draw.performed_at = now
    draw.seed = competition.draw_seed
    draw.entropy = entropy
    if beacon is not None:
        draw.beacon_chain, draw.beacon_round = beacon.chain, beacon.round
        draw.beacon_signature, draw.beacon_demo = beacon.signature, beacon.demo
    draw.winning_index = indexes[0] if indexes else None
    draw.winning_ticket = tickets[0] if tickets else None
    draw.manual_reason = reason
    draw.save()

    _record_winners(competition, draw, list(zip(prizes, indexes, tickets, strict=False)))
    if tickets:
        summary = "Winners: " + ", ".join(f"#{t.number}" for t in tickets)
        if mode == Draw.Mode.MANUAL:
            summary += f" (1st prize entered manually: {reason})"
        _log(
            competition,
            "drawn",
            summary,
            by=by,
            draw=draw,
            mode=mode,
            entropy=entropy,
            beacon_round=beacon.round if beacon else None,
            beacon_signature=beacon.signature if beacon else "",
            winning_indexes=indexes,
            winning_numbers=[t.number for t in tickets],
            seed=draw.seed,
        )
    else:
        _log(
            competition,
            "closed_without_entries",
            "No valid entries: closed without a winner.",
            by=by,
            draw=draw,
            mode=mode,
            seed=draw.seed,
        )

    events.draw_completed(draw)
    if tickets:
        # Every entrant hears the result once, in batches after the draw commits.
        entrant_broadcast_start(
            competition=competition,
            subject="result",
            kind="drawn",
            context={"draw": draw.pk},
            now=now,
        )
    return draw


def _owners_as_frozen(competition, draw):
    """The ledger's owners (one prize per customer), refused unless the ledger and its owners
    list are the ones frozen."""
    owners = ledger_owners(competition.pk)
    if (owners.ledger_hash, owners.count, owners.owners_hash) != (
        draw.ledger_hash,
        draw.entry_count,
        draw.owners_hash,
    ):
        raise LedgerChanged(
            f"The entries of “{competition.title}” or their owners changed after the freeze "
            f"at {timezone.localtime(draw.ledger_frozen_at):%Y-%m-%d %H:%M} (now {owners.count} "
            f"entries, ledger hash {owners.ledger_hash}, owners hash {owners.owners_hash}). "
            "Nothing was drawn."
        )
    return owners


def _record_winners(competition, draw, picks) -> list:
    """Have the winners app record who won (the `prizes_won` hook, see draws.signals)."""
    if not picks:
        return []
    responses = prizes_won.send(sender=Draw, competition=competition, draw=draw, picks=picks)
    winners = [winner for _receiver, made in responses for winner in (made or [])]
    if len(winners) != len(picks):
        raise RuntimeError(
            f"The draw picked {len(picks)} winner(s) but {len(winners)} were recorded: "
            "is the winners app installed?"
        )
    return winners


def _guarded(perform, *, competition: Competition, mode: str, by, now):
    """Run a draw; log refusals asked for by a person, and log and alert real failures."""
    try:
        return perform()
    except DrawBusy:
        raise
    except DrawError as refusal:
        if isinstance(refusal, LedgerChanged | BeaconRefused):
            _record_failure(competition, mode=mode, by=by, now=now, error=refusal)
        elif mode != Draw.Mode.AUTOMATIC:
            _record(competition, "draw_refused", str(refusal), by=by, mode=mode)
        raise
    except Exception as error:
        _record_failure(competition, mode=mode, by=by, now=now, error=error)
        raise


def _record(competition, action, message, *, by, **data) -> None:
    try:
        with transaction.atomic():
            _log(competition, action, message, by=by, **data)
    except Exception:  # never hide the original error behind a logging one
        logger.exception("Could not log %s for competition %s", action, competition.pk)


def _record_failure(competition, *, mode, by, now, error) -> None:
    message = str(error) or type(error).__name__
    try:
        with transaction.atomic():
            _log(competition, "draw_failed", message, by=by, mode=mode, error=type(error).__name__)
            events.draw_failed(competition, error=f"The {mode} draw failed: {message}")
    except Exception:
        logger.exception("Could not record the failed draw of competition %s", competition.pk)


def _drawable_then_beacon(competition: Competition, *, mode: str, now, by) -> BeaconRound:
    """Refuse early what the rules refuse anyway (drawn, not closed), then fetch the round."""
    _check_drawable(Competition.objects.get(pk=competition.pk), mode=mode, now=now)
    return _beacon_fetch(Competition.objects.get(pk=competition.pk), now=now, by=by)


def draw_perform(*, competition: Competition, mode: str, by=None, now=None) -> Draw:
    """Draw every draw prize of a closed competition at random, exactly once, with the beacon
    round announced at activation (waits, `BeaconPending`, until it is out). Staff never
    give the randomness."""
    if mode not in (Draw.Mode.AUTOMATIC, Draw.Mode.ADMIN):
        raise ValueError("A random draw is automatic or admin; use draw_perform_manual.")
    now = now or timezone.now()

    def perform():
        beacon = _drawable_then_beacon(competition, mode=mode, now=now, by=by)
        return _perform(competition=competition, mode=mode, by=by, beacon=beacon, now=now)

    return _guarded(perform, competition=competition, mode=mode, by=by, now=now)


def draw_perform_manual(
    *,
    competition: Competition,
    ticket_number: int,
    reason: str,
    by,
    now=None,
) -> Draw:
    """Record a winner chosen by staff (e.g. a witnessed live draw when the system was down).

    The ticket must be a valid entry; it wins the 1st prize and any further draw prizes are
    drawn at random as usual, with the announced beacon round (so then it waits for it, like
    any draw). Recorded and shown as manual, never as a random draw."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ManualEntryInvalid("A manual winner entry needs a reason.")
    mode = Draw.Mode.MANUAL

    def perform():
        beacon = None
        if competition.prizes.filter(kind=Prize.Kind.DRAW).count() > 1:
            beacon = _drawable_then_beacon(competition, mode=mode, now=now, by=by)
        return _perform(
            competition=competition,
            mode=mode,
            by=by,
            beacon=beacon,
            now=now,
            manual_number=int(ticket_number),
            reason=reason,
        )

    return _guarded(perform, competition=competition, mode=mode, by=by, now=now)


@transaction.atomic
def draw_set_automatic(*, competition: Competition, enabled: bool, by=None) -> Competition:
    competition = Competition.objects.select_for_update().get(pk=competition.pk)
    if competition.auto_draw_enabled != enabled:
        competition.auto_draw_enabled = enabled
        competition.save(update_fields=["auto_draw_enabled", "updated_at"])
        _log(
            competition,
            "auto_draw_enabled" if enabled else "auto_draw_disabled",
            f"Automatic draw {'enabled' if enabled else 'disabled'}.",
            by=by,
        )
    return competition


def _unfreeze_reopened(now) -> int:
    """A competition re-opened after its freeze (end moved later) gets a fresh freeze at its
    new close: the stale one is marked unfrozen, publicly and in the log."""
    reopened = 0
    stale = Draw.objects.filter(status=Draw.Status.PENDING, ledger_frozen_at__isnull=False).exclude(
        competition__in=Competition.objects.with_status(Status.ENDED, now)
    )
    for draw_id, competition_id in stale.values_list("pk", "competition_id"):
        with transaction.atomic():
            competition = _lock_competition(competition_id)
            if competition.live_status(now) not in (Status.UPCOMING, Status.ACTIVE):
                continue
            draw = Draw.objects.select_for_update().get(pk=draw_id)
            if draw.ledger_frozen_at is None or draw.is_done:
                continue
            previous = draw.ledger_hash
            draw.ledger_frozen_at = None
            draw.save(update_fields=["ledger_frozen_at"])
            _log(
                competition,
                "ledger_unfrozen",
                "Competition re-opened; the entry ledger will be frozen again at close.",
                draw=draw,
                previous_ledger_hash=previous,
                ends_at=competition.ends_at.isoformat(),
            )
            reopened += 1
    return reopened


def _paused_by_failure(competition_id: int) -> bool:
    """After a failed draw (last log entry), automatic draws wait for staff to act."""
    latest = (
        DrawLogEntry.objects.filter(competition_id=competition_id)
        .order_by("-at", "-id")
        .values_list("action", flat=True)
        .first()
    )
    return latest == "draw_failed"


def draws_close_and_find_due(*, now=None) -> list[int]:
    """The periodic job's first half: bring statuses up to the clock, freeze the ledger of
    every competition that has closed, and return the ids of those due to be drawn
    automatically (ended, automatic draw on, draw time reached, not paused by a failure)."""
    now = now or timezone.now()
    competition_sync_statuses(now=now)
    _unfreeze_reopened(now)
    # Below the minimum at close: extend, cancel or draw anyway (before any freeze).
    minimum_outcomes_apply(now=now)
    ended = Competition.objects.with_status(Status.ENDED, now)
    frozen = Draw.objects.filter(competition=OuterRef("pk"), ledger_frozen_at__isnull=False)
    for competition in ended.exclude(Exists(frozen)).order_by("id"):
        try:
            draw_freeze_ledger(competition=competition, now=now)
        except DrawError:
            pass  # drawn or re-opened meanwhile
        except Exception:
            logger.exception("Freezing the ledger of competition %s failed", competition.pk)
    due = (
        ended.filter(auto_draw_enabled=True, draw_at__lte=now)
        # Below its minimum: only once "draw anyway" was decided (draws.minimum).
        .exclude(Q(min_tickets__gt=F("tickets_sold")) & ~draw_allowed_below_minimum())
        .order_by("draw_at", "id")
    )
    return [pk for pk in due.values_list("pk", flat=True) if not _paused_by_failure(pk)]


def draw_due_competition(*, competition_id: int, now=None) -> Draw:
    """The scheduled draw of one competition (the Celery task and `run_due_draws` call it)."""
    competition = Competition.objects.get(pk=competition_id)
    return draw_perform(competition=competition, mode=Draw.Mode.AUTOMATIC, now=now)


# ---------------------------------------------------------------- redraws (§4.7)


@transaction.atomic
def redraw_announce(
    *,
    competition: Competition,
    prize: Prize,
    disqualified_ticket: Ticket,
    disqualified_index: int,
    disqualified_name: str = "",
    excluded_indexes,
    reason: str,
    detail: str,
    by,
    now=None,
) -> Redraw:
    """Record that a prize is to be drawn again (its winner was disqualified: the winners app
    calls this from `winner_disqualify`), and fix and publish the beacon round it will use:
    the first at or after now plus the margin. `excluded_indexes` are the ledger indexes of
    every earlier winner of the competition."""
    now = now or timezone.now()
    detail = (detail or "").strip()
    if reason not in Redraw.Reason.values or not detail:
        raise ManualEntryInvalid("A redraw needs a reason from the list and a description.")
    competition = _lock_competition(competition.pk)
    draw = Draw.objects.filter(competition=competition, status=Draw.Status.COMPLETED).first()
    if draw is None:
        raise DrawNotDue(f"“{competition.title}” has not been drawn: there is nothing to redraw.")
    if Redraw.objects.filter(prize=prize, status=Redraw.Status.PENDING).exists():
        raise AlreadyDrawn(f"A redraw of {prize.title} is already waiting for its beacon round.")
    beacon = beacon_current()
    number = beacon_round_rule(close=now, now=now)
    sequence = Redraw.objects.filter(competition=competition).count() + 1
    redraw = Redraw.objects.create(
        competition=competition,
        draw=draw,
        prize=prize,
        sequence=sequence,
        disqualified_ticket=disqualified_ticket,
        disqualified_index=disqualified_index,
        disqualified_name=disqualified_name,
        reason=reason,
        reason_detail=detail,
        excluded_indexes=sorted(set(excluded_indexes)),
        announced_at=now,
        announced_by=by,
        beacon_chain=beacon.chain,
        beacon_round=number,
    )
    _log(
        competition,
        "redraw_announced",
        f"Ticket #{disqualified_ticket.number} disqualified from {prize.title} "
        f"({redraw.get_reason_display()}: {detail}). Redraw {sequence} will use {beacon.name} "
        f"round {number}, published at {round_time(number):%Y-%m-%d %H:%M:%S} UTC.",
        by=by,
        draw=draw,
        redraw=redraw.pk,
        prize=prize.position,
        disqualified_number=disqualified_ticket.number,
        disqualified_index=disqualified_index,
        reason=reason,
        detail=detail,
        excluded_indexes=redraw.excluded_indexes,
        chain=beacon.chain,
        round=number,
        expected_at=round_time(number).isoformat(),
    )
    return redraw


def _redraw_in_transaction(*, redraw_id: int, beacon: BeaconRound, by, now) -> Redraw:
    redraw = Redraw.objects.select_related("prize", "draw").get(pk=redraw_id)
    competition = _lock_competition(redraw.competition_id)
    redraw = Redraw.objects.select_for_update().select_related("prize", "draw").get(pk=redraw_id)
    if redraw.status != Redraw.Status.PENDING:
        raise AlreadyDrawn(f"Redraw {redraw.sequence} of “{competition.title}” is done.")
    draw = redraw.draw
    # Winners of redraws completed since this one was announced cannot win again either.
    earlier = Redraw.objects.filter(
        competition=competition, sequence__lt=redraw.sequence, new_index__isnull=False
    ).values_list("new_index", flat=True)
    redraw.excluded_indexes = sorted({*redraw.excluded_indexes, *earlier})
    owners, owner_rule = None, {}
    if competition.one_prize_per_customer:
        # One prize per customer (docs/architecture.md §4, 8): every entry of every earlier
        # winner's customer is skipped (the disqualified one's too), read from the owners
        # list committed at the freeze, so anyone can recompute it.
        owners = _owners_as_frozen(competition, draw)
        barred = {owners.labels[i] for i in redraw.excluded_indexes if i < owners.count}
        owner_rule = {"excluded_owners": sorted(barred)}  # pseudonymous labels, in the log
    index = fairness.redraw_index(
        seed=draw.seed,
        ledger_hash=draw.ledger_hash,
        entropy=beacon.randomness,
        count=draw.entry_count,
        prize=redraw.prize.position,
        excluded=redraw.excluded_indexes,
        owner_of=owners.labels.__getitem__ if owners else None,
    )
    redraw.beacon_signature, redraw.randomness = beacon.signature, beacon.randomness
    redraw.beacon_demo = beacon.demo
    redraw.performed_at, redraw.performed_by = now, by
    if index is None:
        redraw.status = Redraw.Status.NO_ENTRIES
        redraw.save()
        who = "every customer has already won" if owners else "every entry has already won"
        _log(
            competition,
            "redrawn",
            f"Redraw {redraw.sequence}: {who}; {redraw.prize.title} stays unawarded.",
            by=by,
            draw=draw,
            redraw=redraw.pk,
            round=beacon.round,
            signature=beacon.signature,
            **owner_rule,
        )
        return redraw
    if owners is not None:
        picked = {index: owners.ticket_at(index)}  # read in full just now, hashes checked
    else:
        marks = draw.ledger_marks if _ledger_unchanged(draw) else None
        picked = ledger_pick(competition.pk, [index], marks) if marks is not None else None
    if not picked:
        scan = ledger_scan(competition.pk, pick=[index])
        if (scan.ledger_hash, scan.count) != (draw.ledger_hash, draw.entry_count):
            raise LedgerChanged(
                f"The entry ledger of “{competition.title}” no longer matches the one frozen "
                "at close: nothing was redrawn."
            )
        picked = scan.picked
    ticket = Ticket.objects.select_related("user").get(pk=picked[index][0])
    redraw.status = Redraw.Status.COMPLETED
    redraw.new_index, redraw.new_ticket = index, ticket
    redraw.save()
    _record_winners(competition, draw, [(redraw.prize, index, ticket)])
    _log(
        competition,
        "redrawn",
        f"Redraw {redraw.sequence}: {redraw.prize.title} goes to ticket #{ticket.number}.",
        by=by,
        draw=draw,
        redraw=redraw.pk,
        prize=redraw.prize.position,
        round=beacon.round,
        signature=beacon.signature,
        randomness=beacon.randomness,
        winning_index=index,
        winning_number=ticket.number,
        **owner_rule,
    )
    events.redraw_completed(redraw)
    return redraw


def redraw_perform(*, redraw: Redraw, by=None, now=None) -> Redraw:
    """Perform a pending redraw once its beacon round is out (`BeaconPending` until then)."""
    now = now or timezone.now()
    redraw = Redraw.objects.select_related("competition").get(pk=redraw.pk)
    competition = redraw.competition
    if redraw.status != Redraw.Status.PENDING:
        raise AlreadyDrawn(f"Redraw {redraw.sequence} of “{competition.title}” is done.")
    provider = beacon_for_chain(redraw.beacon_chain)
    if provider is None:
        raise BeaconRefused(f"Beacon chain {redraw.beacon_chain} cannot be fetched here.")
    mode = "redraw"
    try:
        try:
            beacon = provider.fetch(redraw.beacon_round, now=now)
        except BeaconNotYet as error:
            raise BeaconPending(f"Waiting for the beacon: {error}") from error
        except BeaconUnavailable as error:
            announced = Competition(pk=competition.pk, title=competition.title)
            announced.beacon_round = redraw.beacon_round
            _beacon_overdue(announced, error, now=now)
            raise BeaconPending(
                f"Waiting for beacon round {redraw.beacon_round}: {error}"
            ) from error
        except BeaconInvalid as error:
            raise BeaconRefused(str(error)) from error
        with transaction.atomic():
            return _redraw_in_transaction(redraw_id=redraw.pk, beacon=beacon, by=by, now=now)
    except (BeaconPending, AlreadyDrawn, DrawBusy):
        raise
    except Exception as error:
        _record_failure(competition, mode=mode, by=by, now=now, error=error)
        raise


def redraws_due(*, now=None) -> list[int]:
    """Pending redraws whose beacon round's time has come, oldest first."""
    now = now or timezone.now()
    pending = Redraw.objects.filter(status=Redraw.Status.PENDING).order_by("announced_at", "pk")
    return [
        pk for pk, number in pending.values_list("pk", "beacon_round") if round_time(number) <= now
    ]
