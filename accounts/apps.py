"""Identity: who a customer or member of staff is, and how they sign in."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Customers and staff"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from .middleware import staff_session_start

        def staff_session(sender, request, user, **kwargs):
            if user.is_staff and request is not None and hasattr(request, "session"):
                staff_session_start(request)

        user_logged_in.connect(staff_session, dispatch_uid="accounts.staff_session")
