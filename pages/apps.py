"""Top layer: pages that span domains (home, account dashboard, How we comply)."""

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save

from core.pagecache import content_changed


def _public_content_changed(sender, **kwargs) -> None:
    content_changed()


class PagesConfig(AppConfig):
    name = "pages"
    verbose_name = "Pages"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # What the cached public pages show (core/pagecache.py): saving or deleting any of it
        # starts a new content version, so a staff edit shows on the next request. Sales move
        # the counters with queryset updates, which send no signal: those pages are at most
        # FAIRDRAW_PAGE_CACHE_SECONDS stale, as intended.
        from competitions.models import AnswerChoice, Bundle, Competition, CompetitionImage, Prize
        from core.models import OperatorSettings
        from draws.models import Draw
        from winners.models import Winner

        # How we comply is written from the operator settings.
        for model in (
            Competition,
            CompetitionImage,
            AnswerChoice,
            Prize,
            Bundle,
            Draw,
            Winner,
            OperatorSettings,
        ):
            for signal in (post_save, post_delete):
                signal.connect(
                    _public_content_changed,
                    sender=model,
                    dispatch_uid=f"pagecache-{signal is post_save}-{model._meta.label}",
                )
