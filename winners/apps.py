from django.apps import AppConfig


class WinnersConfig(AppConfig):
    name = "winners"
