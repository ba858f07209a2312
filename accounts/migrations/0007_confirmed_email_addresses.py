"""E-mail confirmation arrives (django-allauth): every existing account in good standing keeps
buying as before, so its login address is recorded as confirmed (and primary). Banned and
inactive accounts get an unconfirmed address: if one is ever reinstated, the customer confirms
it first. Passwords and sessions are untouched (same User table, same hashers)."""

from django.db import migrations


def confirm_existing_addresses(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    EmailAddress = apps.get_model("account", "EmailAddress")
    have = set(EmailAddress.objects.values_list("user_id", flat=True))
    EmailAddress.objects.bulk_create(
        [
            EmailAddress(
                user_id=user_id,
                email=email.lower(),
                primary=True,
                verified=is_active and not is_banned,
            )
            for user_id, email, is_active, is_banned in User.objects.values_list(
                "pk", "email", "is_active", "is_banned"
            ).iterator()
            if user_id not in have and email
        ],
        batch_size=1000,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_move_out_to_own_apps"),
        ("account", "0009_emailaddress_unique_primary_email"),
    ]

    operations = [
        migrations.RunPython(confirm_existing_addresses, migrations.RunPython.noop),
    ]
