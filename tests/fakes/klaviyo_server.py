"""A fake Klaviyo API (JSON:API over HTTP) for the klaviyo-api SDK's real code paths."""

import uuid

from .scripted_server import RecordedRequest, ScriptedServer


class FakeKlaviyo(ScriptedServer):
    content_type = "application/vnd.api+json"

    def success(self, request: RecordedRequest, status: int | None):
        if request.path.startswith("/api/profile-import"):
            profile = request.json()["data"]
            body = {
                "data": {
                    "type": "profile",
                    "id": "01FAKEPROFILE" + uuid.uuid4().hex[:12].upper(),
                    "attributes": profile["attributes"],
                    "links": {"self": "https://a.klaviyo.com/api/profiles/x/"},
                }
            }
            return status or 200, body, self.content_type
        return status or 202, b"", self.content_type  # events and subscription jobs: accepted

    def error_body(self, status: int):
        return {
            "errors": [
                {
                    "id": str(uuid.uuid4()),
                    "status": status,
                    "code": "invalid" if status < 500 else "server_error",
                    "title": "Invalid input." if status < 500 else "Server error.",
                    "detail": "The phone number provided either does not exist or is ineligible "
                    "to receive SMS"
                    if status < 500
                    else "Something went wrong.",
                    "source": {"pointer": "/data/attributes/profile"},
                }
            ]
        }

    def events(self) -> list[dict]:
        """The JSON:API bodies of every event posted, in order."""
        return [r.json() for r in self.requests if r.path.startswith("/api/events")]
