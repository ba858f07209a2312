"""Forms for complaints: the customer's form, and the staff forms of the admin workflow.

The forms check shapes; complaints.services checks every rule again when it acts."""

from django import forms

from competitions.models import Competition
from tickets.models import Order

from .models import Complaint
from .services import MESSAGE_MAX_LENGTH, MESSAGE_MIN_LENGTH, Escalation

# How many of a customer's orders, and of the public competitions, the form offers.
ORDER_CHOICES = 50
COMPETITION_CHOICES = 100


def _required(message: str) -> dict:
    return {"required": message}


class ComplaintForm(forms.Form):
    name = forms.CharField(
        label="Your name",
        max_length=150,
        error_messages=_required("Enter your name."),
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = forms.EmailField(
        label="E-mail address",
        max_length=254,
        error_messages={
            "required": "Enter your e-mail address, so we can reply.",
            "invalid": "Enter an e-mail address like name@example.com.",
        },
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        help_text="We send your reference and our replies here.",
    )
    category = forms.ChoiceField(
        label="What is it about?",
        choices=[("", "Choose a topic"), *Complaint.Category.choices],
        error_messages=_required("Choose what your complaint is about."),
    )
    competition = forms.TypedChoiceField(
        label="Competition",
        required=False,
        coerce=int,
        empty_value=None,
        help_text="If it is about a particular competition.",
    )
    order_reference = forms.CharField(
        label="Order reference",
        required=False,
        max_length=16,
        help_text="If it is about an order: it looks like FD-ABCD2345 and is in your "
        "confirmation e-mail.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    message = forms.CharField(
        label="Tell us what happened",
        min_length=MESSAGE_MIN_LENGTH,
        max_length=MESSAGE_MAX_LENGTH,
        error_messages={
            "required": "Tell us what happened, so we can look into it.",
            "min_length": f"Tell us a little more: at least {MESSAGE_MIN_LENGTH} characters.",
            "max_length": f"Keep your message under {MESSAGE_MAX_LENGTH:,} characters.",
        },
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="What went wrong, when, and what you would like us to do about it.",
    )
    # A honeypot: hidden from people (and screen readers), filled in by form-filling robots.
    website = forms.CharField(
        label="Leave this empty",
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def __init__(self, *args, user=None, **kwargs):
        self.user = user if getattr(user, "is_authenticated", False) else None
        initial = kwargs.pop("initial", {}) or {}
        if self.user is not None:
            initial = {
                "name": self.user.get_full_name(),
                "email": self.user.email,
                **initial,
            }
        super().__init__(*args, initial=initial, **kwargs)
        self.fields["competition"].choices = self._competition_choices()
        if self.user is not None:
            orders = list(
                Order.objects.filter(user=self.user)
                .exclude(status__in=[Order.Status.EXPIRED, Order.Status.CANCELLED])
                .order_by("-created_at", "-id")
                .values_list("reference", "created_at", "total")[:ORDER_CHOICES]
            )
            if orders:
                # A customer's own orders are picked from a list rather than typed.
                self.fields["order_reference"] = forms.ChoiceField(
                    label="Order",
                    required=False,
                    choices=[
                        ("", "No particular order"),
                        *(
                            (reference, f"{reference} · {created:%-d %b %Y} · £{total}")
                            for reference, created, total in orders
                        ),
                    ],
                    help_text="If it is about one of your orders.",
                )

    def _competition_choices(self) -> list:
        public = Competition.objects.public().order_by("-ends_at", "-id")
        empty = ("", "No particular competition")
        if self.user is None:
            return [empty, *public.values_list("pk", "title")[:COMPETITION_CHOICES]]
        entered = list(
            public.filter(tickets__user=self.user).distinct().values_list("pk", "title")[:50]
        )
        others = public.exclude(pk__in=[pk for pk, _ in entered]).values_list("pk", "title")
        return [
            empty,
            *([("Competitions you entered", entered)] if entered else []),
            (
                "Other competitions" if entered else "Competitions",
                list(others[:COMPETITION_CHOICES]),
            ),
        ]

    def clean_website(self):
        if self.cleaned_data["website"]:
            raise forms.ValidationError("Leave this field empty.")
        return ""

    def clean_competition(self):
        pk = self.cleaned_data["competition"]
        if pk is None:
            return None
        competition = Competition.objects.public().filter(pk=pk).first()
        if competition is None:
            raise forms.ValidationError("Choose a competition from the list.")
        return competition


# ---------------------------------------------------------------- staff (admin)


def _staff_text(label: str, help_text: str = "", rows: int = 8) -> forms.CharField:
    return forms.CharField(
        label=label,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": rows, "cols": 80}),
    )


class RespondForm(forms.Form):
    message = _staff_text(
        "Reply to the customer", "E-mailed to the customer and shown in their account."
    )


class NoteForm(forms.Form):
    message = _staff_text("Internal note", "Seen by staff only; never sent to the customer.", 5)


class ResolveForm(forms.Form):
    message = _staff_text(
        "Final response to the customer",
        "E-mailed to the customer as our final response; it closes the complaint.",
    )


class EscalateForm(forms.Form):
    to = forms.ChoiceField(
        label="Escalate to", choices=Escalation.CHOICES, widget=forms.RadioSelect
    )
    message = _staff_text(
        "Message to the customer",
        "E-mailed to the customer after a line saying where their complaint has gone: say why "
        "and what happens next.",
    )


class ReopenForm(forms.Form):
    message = _staff_text(
        "Why reopen it?", "Internal; the customer is told when you next reply.", 4
    )
