"""The basket, kept in the session (so a visitor's basket survives logging in).

One line per competition: lucky-dip tickets, chosen numbers (or both) and the skill-question
answer. The session stores only ids and numbers; prices and titles are read fresh each time.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from competitions.models import AnswerChoice, Competition

from .pricing import PricedLine, Quote, quote
from .services import LineRequest

SESSION_KEY = "fairdraw_cart"
CODE_KEY = "fairdraw_cart_code"  # the discount code entered in the basket (tickets.pricing)


@dataclass
class CartLine:
    competition: Competition
    answer: AnswerChoice | None
    quantity: int  # lucky dip
    numbers: list[int] = field(default_factory=list)
    priced: "PricedLine | None" = None  # set by `Cart.quote`: bundles and code applied

    @property
    def count(self) -> int:
        return self.quantity + len(self.numbers)

    @property
    def total(self) -> Decimal:
        if self.priced is not None:
            return self.priced.total
        return self.competition.ticket_price * self.count


class Cart:
    def __init__(self, session):
        self.session = session
        self.data: dict[str, dict] = dict(session.get(SESSION_KEY) or {})

    def _save(self) -> None:
        self.session[SESSION_KEY] = self.data
        self.session.modified = True

    def __len__(self) -> int:
        return len(self.data)

    def raw(self, competition_id: int) -> dict:
        return dict(self.data.get(str(competition_id)) or {"quantity": 0, "numbers": []})

    def put(self, competition_id: int, *, answer_id, quantity: int, numbers) -> None:
        if quantity <= 0 and not numbers:
            self.remove(competition_id)
            return
        self.data[str(competition_id)] = {
            "answer": answer_id,
            "quantity": max(int(quantity), 0),
            "numbers": sorted({int(n) for n in numbers}),
        }
        self._save()

    def remove(self, competition_id: int) -> None:
        if self.data.pop(str(competition_id), None) is not None:
            self._save()

    def clear(self) -> None:
        self.data = {}
        self.session.pop(CODE_KEY, None)
        self._save()

    @property
    def code(self) -> str:
        return self.session.get(CODE_KEY) or ""

    def set_code(self, code: str) -> None:
        if code:
            self.session[CODE_KEY] = code
        else:
            self.session.pop(CODE_KEY, None)
        self.session.modified = True

    def quote(self, lines: list[CartLine], *, user=None) -> Quote:
        """The basket's prices, worked out now (bundles, then the code): each line's `priced`."""
        result = quote(lines, code_text=self.code, user=user)
        for line, priced in zip(lines, result.lines, strict=True):
            line.priced = priced
        return result

    def lines(self) -> list[CartLine]:
        ids = [int(k) for k in self.data]
        # A competition taken back to draft since it was added is no longer shown.
        competitions = Competition.objects.public().in_bulk(ids)
        answers = AnswerChoice.objects.in_bulk(
            [v.get("answer") for v in self.data.values() if v.get("answer")]
        )
        lines = []
        for key, value in self.data.items():
            competition = competitions.get(int(key))
            if competition is None:
                continue
            lines.append(
                CartLine(
                    competition=competition,
                    answer=answers.get(value.get("answer")),
                    quantity=int(value.get("quantity") or 0),
                    numbers=list(value.get("numbers") or []),
                )
            )
        return sorted(lines, key=lambda line: line.competition.pk)

    def requests(self) -> list[LineRequest]:
        return [
            LineRequest(
                competition_id=line.competition.pk,
                answer_id=line.answer.pk if line.answer else None,
                quantity=line.quantity,
                numbers=tuple(line.numbers),
            )
            for line in self.lines()
        ]

    @staticmethod
    def total(lines: list[CartLine]) -> Decimal:
        return sum((line.total for line in lines), Decimal("0"))
