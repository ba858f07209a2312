"""Forms for the customer's own pages. They check shapes (a date, matching passwords) and
call the rules in accounts.services early, so every mistake shows at once; the services
check the rules again when they act, so no caller can skip them."""

from allauth.account import forms as allauth_forms
from allauth.account.adapter import get_adapter
from django import forms
from django.core.exceptions import ValidationError

from . import services
from .models import User

DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d/%m/%Y"]  # what <input type="date"> sends, then UK typing


def _required(message: str) -> dict:
    return {"required": message}


def _date_of_birth_field() -> forms.DateField:
    return forms.DateField(
        label="Date of birth",
        error_messages={
            "required": "Enter your date of birth.",
            "invalid": "Enter a real date of birth, e.g. 17/05/1990.",
        },
        input_formats=DATE_INPUT_FORMATS,
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}, format="%Y-%m-%d"),
        help_text="You must be 18 or over to enter.",
    )


def _phone_field() -> forms.CharField:
    return forms.CharField(
        label="Mobile number",
        max_length=32,
        error_messages=_required("Enter your mobile number."),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
        help_text="We text you if you win. UK numbers like 07700 900123 are fine.",
    )


MARKETING_LABEL = "Send me news of new competitions and offers by e-mail and SMS"


class PhoneAndBirthMixin:
    def clean_phone(self):
        phone = self.cleaned_data["phone"]
        return services.phone_to_e164(phone) if phone else phone

    def clean_date_of_birth(self):
        born = self.cleaned_data["date_of_birth"]
        services.check_of_age(born)
        return born


def _name_fields():
    return (
        forms.CharField(
            label="First name",
            max_length=150,
            error_messages=_required("Enter your first name."),
            widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
        ),
        forms.CharField(
            label="Last name",
            max_length=150,
            error_messages=_required("Enter your last name."),
            widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
        ),
    )


class SignUpForm(PhoneAndBirthMixin, allauth_forms.SignupForm):
    """allauth's sign-up (e-mail and password, its checks and rate limit) with Fairdraw's own
    fields and rules; accounts.adapter saves it through accounts.services.user_register."""

    first_name, last_name = _name_fields()
    date_of_birth = _date_of_birth_field()
    phone = _phone_field()
    marketing_consent = forms.BooleanField(label=MARKETING_LABEL, required=False)

    # The order the page shows them in, so the error summary reads top to bottom too.
    field_order = [
        "first_name",
        "last_name",
        "date_of_birth",
        "phone",
        "email",
        "password1",
        "password2",
        "marketing_consent",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"] = forms.EmailField(
            label="E-mail address",
            max_length=254,
            error_messages={
                "required": "Enter your e-mail address.",
                "invalid": "Enter an e-mail address like name@example.com.",
            },
            widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        )
        self.fields["password1"] = forms.CharField(
            label="Password",
            strip=False,
            error_messages=_required("Choose a password."),
            widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
            help_text="At least 8 characters, not only numbers and not a common password.",
        )
        self.fields["password2"] = forms.CharField(
            label="Confirm password",
            strip=False,
            error_messages=_required("Type your password again to confirm it."),
            widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        )
        self.order_fields(self.field_order)

    def clean_password2(self):
        first, second = self.cleaned_data.get("password1"), self.cleaned_data.get("password2")
        if first and second and first != second:
            raise ValidationError("The two passwords don’t match.")
        return second

    def save(self, request):
        # The service writes the account and its address to confirm in one transaction, so
        # allauth's own set-up of the address (which would write it a second time) is skipped.
        adapter = get_adapter(request)
        return adapter.save_user(request, adapter.new_user(request), self)


class LoginForm(allauth_forms.LoginForm):
    """allauth's login form (its failed-login limits included) with our labels. A banned
    customer is told why they can't get in by accounts.adapter, and only once they have given
    the right password, so it reveals nothing to a stranger."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["login"].label = "E-mail address"
        self.fields["login"].widget = forms.EmailInput(
            attrs={"autocomplete": "email", "autofocus": True}
        )
        self.fields["login"].error_messages["required"] = "Enter your e-mail address."
        self.fields["password"].error_messages["required"] = "Enter your password."
        self.fields["password"].help_text = ""


class ProfileForm(PhoneAndBirthMixin, forms.Form):
    first_name, last_name = _name_fields()
    phone = _phone_field()
    marketing_consent = forms.BooleanField(label=MARKETING_LABEL, required=False)

    def __init__(self, *args, user: User, **kwargs):
        initial = {
            "first_name": user.first_name,
            "last_name": user.last_name,
            "phone": user.phone,
            "marketing_consent": user.marketing_consent,
        }
        super().__init__(*args, initial=initial, **kwargs)
        if user.date_of_birth is None:
            # Given once, then fixed: it is the proof of age.
            self.fields["date_of_birth"] = _date_of_birth_field()
