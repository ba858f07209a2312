from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from allauth.mfa.utils import decrypt
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import User
from accounts.services import user_email_verify

DEMO_ADMIN_EMAIL = "admin@demo.fairdraw.example"
DEMO_ADMIN_PASSWORD = "fairdraw-demo-admin"
# Staff need a second factor (accounts.middleware). The demo admin's authenticator app secret is
# fixed and public so anyone running the demo can add it to an app (README "Demo"); it exists
# only where the dev tools are on, never in production.
DEMO_ADMIN_TOTP_SECRET = "FAIRDRAWDEMOADMIN2FACTOR"


def current_code(secret: str) -> str:
    period = 30
    return format_hotp_value(hotp_value(secret, int(timezone.now().timestamp()) // period))


class Command(BaseCommand):
    help = "Create (or reset) the demo superuser for local development and print its login."

    def handle(self, *args, **options):
        if not settings.FAIRDRAW_DEV_TOOLS:
            raise CommandError("The demo admin is for local development only.")
        user, created = User.objects.get_or_create(
            email=DEMO_ADMIN_EMAIL,
            defaults={
                "first_name": "Demo",
                "last_name": "Admin",
                "is_staff": True,
                "is_superuser": True,
            },
        )
        user.is_staff = user.is_superuser = user.is_active = True
        user.set_password(DEMO_ADMIN_PASSWORD)
        user.save()
        user_email_verify(user=user)
        totp = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
        if totp is None or decrypt(totp.data["secret"]) != DEMO_ADMIN_TOTP_SECRET:
            Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).delete()
            TOTP.activate(user, DEMO_ADMIN_TOTP_SECRET)
        uri = (
            f"otpauth://totp/Fairdraw:{DEMO_ADMIN_EMAIL}?secret={DEMO_ADMIN_TOTP_SECRET}"
            "&issuer=Fairdraw"
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo admin {'created' if created else 'ready'}: "
                f"log in at /admin/ as {DEMO_ADMIN_EMAIL} / {DEMO_ADMIN_PASSWORD}\n"
                f"  then the authenticator code: add the secret {DEMO_ADMIN_TOTP_SECRET} to an "
                f"authenticator app ({uri}),\n"
                f"  or get one with `python manage.py ensure_demo_admin` "
                f"(code now: {current_code(DEMO_ADMIN_TOTP_SECRET)}, valid about 30 s)"
            )
        )
