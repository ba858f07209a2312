import pytest

from tests.fakes.klaviyo_server import FakeKlaviyo
from tests.fakes.twilio_server import FakeTwilio

OPERATOR = "ops@fairdraw.example"


@pytest.fixture(autouse=True)
def operators(settings):
    settings.ADMINS = [("Fairdraw operations", OPERATOR)]
    settings.SITE_URL = "https://fairdraw.example"


@pytest.fixture
def fake_klaviyo(settings):
    """The real klaviyo-api SDK, pointed at a local fake Klaviyo."""
    with FakeKlaviyo() as fake:
        settings.NOTIFICATIONS_KLAVIYO_BACKEND = "klaviyo"
        settings.KLAVIYO_PRIVATE_API_KEY = "pk_test_fairdraw"
        settings.KLAVIYO_API_URL = fake.url
        yield fake


@pytest.fixture
def fake_twilio(settings):
    """The real twilio SDK, its requests sent to a local fake Twilio."""
    with FakeTwilio() as fake:
        settings.NOTIFICATIONS_SMS_BACKEND = "twilio"
        settings.TWILIO_ACCOUNT_SID = "AC" + "1" * 32
        settings.TWILIO_AUTH_TOKEN = "twilio-test-token"
        settings.TWILIO_FROM_NUMBER = "+447700900000"
        settings.TWILIO_API_URL = fake.url
        yield fake


@pytest.fixture
def console_backends(settings):
    settings.NOTIFICATIONS_KLAVIYO_BACKEND = "console"
    settings.NOTIFICATIONS_SMS_BACKEND = "console"
