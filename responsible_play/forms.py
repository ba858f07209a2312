"""The customer's responsible-play forms: a monthly limit, a break or an exclusion."""

from django import forms


def _required(message: str) -> dict:
    return {"required": message}


class SpendLimitForm(forms.Form):
    monthly_limit = forms.DecimalField(
        label="Monthly spending limit (£)",
        required=False,
        min_value=0,
        max_digits=10,
        decimal_places=2,
        error_messages={
            "invalid": "Enter an amount in pounds, e.g. 50 or 25.50.",
            "min_value": "A limit can’t be negative. Enter 0 to stop all spending.",
            "max_decimal_places": "Enter pounds and pence, e.g. 25.50.",
        },
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.01", "min": "0"}),
        help_text="Leave blank for no personal limit. £0 stops all purchases.",
    )


class ExclusionForm(forms.Form):
    """Take a break, self-exclude or close the account: one choice, confirmed."""

    BREAK, SELF_EXCLUSION, CLOSE = "break", "self_exclusion", "close"
    kind = forms.ChoiceField(
        label="What would you like to do?",
        choices=[
            (BREAK, "Take a break (1 to 42 days)"),
            (SELF_EXCLUSION, "Self-exclude (6 months or more; can’t be undone early)"),
            (CLOSE, "Close my account"),
        ],
        widget=forms.RadioSelect,
        error_messages=_required("Choose a break, self-exclusion or closing your account."),
    )
    days = forms.IntegerField(
        label="Break length in days", required=False, min_value=1, max_value=42
    )
    months = forms.TypedChoiceField(
        label="Self-exclusion length",
        required=False,
        coerce=int,
        empty_value=None,
        choices=[(6, "6 months"), (12, "1 year"), (24, "2 years"), (60, "5 years")],
    )
    confirm = forms.BooleanField(
        label="I understand I won’t be able to enter competitions or receive marketing "
        "until it ends, and that it can’t be cancelled early.",
        error_messages=_required("Tick the box to confirm."),
    )

    def clean(self):
        data = super().clean()
        if data.get("kind") == self.BREAK and not data.get("days"):
            self.add_error("days", "Choose how many days your break should last.")
        if data.get("kind") == self.SELF_EXCLUSION and not data.get("months"):
            self.add_error("months", "Choose how long to self-exclude for.")
        return data
