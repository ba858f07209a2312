from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User

DEMO_ADMIN_EMAIL = "admin@demo.fairdraw.example"
DEMO_ADMIN_PASSWORD = "fairdraw-demo-admin"


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
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo admin {'created' if created else 'ready'}: "
                f"log in at /admin/ as {DEMO_ADMIN_EMAIL} / {DEMO_ADMIN_PASSWORD}"
            )
        )
