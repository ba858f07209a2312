"""What every browser test shares: Debian's chromium driven by Playwright (never a downloaded
browser; the fixtures live with the main journey, tests/browser/test_journey.py)."""

from tests.browser.test_journey import browser_page, chromium, playwright_api  # noqa: F401
