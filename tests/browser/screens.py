"""Screenshots of the pages a browser test changes, at a desktop and a phone width, under
test-artefacts/<folder>/ for people to look at (they are never compared)."""

from pathlib import Path

from django.conf import settings

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def artefacts(folder: str) -> Path:
    path = Path(settings.BASE_DIR) / "test-artefacts" / folder
    path.mkdir(parents=True, exist_ok=True)
    return path


def shot(page, folder: str, name: str) -> None:
    """`name`-desktop.png and `name`-phone.png of the whole page; leaves it at desktop width."""
    where = artefacts(folder)
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        page.screenshot(path=str(where / f"{name}-{size}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)
