"""Staff in the browser: the back-office login with its second factor."""

from playwright.sync_api import expect

from tests.factories import PASSWORD, totp_code


def staff_log_in(page, base_url: str, user, next: str = "/admin/") -> None:
    """Log `user` (staff, with the factory's authenticator app) into the back-office: e-mail and
    password, then the code step every staff account has, landing on `next`."""
    page.goto(f"{base_url}/admin/login/?next={next}")
    page.get_by_label("E-mail address").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Two-Factor Authentication")).to_be_visible()
    page.get_by_label("Code").fill(totp_code())
    page.get_by_role("button", name="Sign In").click()
