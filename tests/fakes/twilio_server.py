"""A fake Twilio REST API (Messages) for the twilio SDK's real request building."""

import uuid

from .scripted_server import RecordedRequest, ScriptedServer

INVALID_NUMBER = (
    400,
    {
        "code": 21211,
        "message": "The 'To' number +447700900999 is not a valid phone number.",
        "more_info": "https://www.twilio.com/docs/errors/21211",
        "status": 400,
    },
)


class FakeTwilio(ScriptedServer):
    def success(self, request: RecordedRequest, status: int | None):
        form = request.form()
        body = {
            "sid": "SM" + uuid.uuid4().hex,
            "status": "queued",
            "to": form.get("To"),
            "from": form.get("From"),
            "body": form.get("Body"),
            "num_segments": "1",
        }
        return status or 201, body, self.content_type

    def error_body(self, status: int):
        return {"code": 20500, "message": "Internal Server Error", "status": status}

    def messages(self) -> list[dict]:
        """The form fields of every message posted, in order."""
        return [r.form() for r in self.requests if r.path.endswith("/Messages.json")]
