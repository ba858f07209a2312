"""Identity: who a customer or member of staff is, and how they sign in."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Customers and staff"
