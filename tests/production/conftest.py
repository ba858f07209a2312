# The browser fixtures of the development journey (Debian's chromium through Playwright).
from tests.browser.test_journey import chromium, playwright_api  # noqa: F401
