"""A fake drand HTTP relay (`GET /<chain hash>/public/<round>`) serving real recorded quicknet
rounds, so the real fetch-and-verify path (draws.beacon.DrandBeacon) runs without the network."""

import re

from .scripted_server import RecordedRequest, ScriptedServer

QUICKNET_CHAIN = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971"

# Recorded from the quicknet chain (docs: DESIGN §10); the signature verifies against the
# chain's public key, and the randomness is its SHA-256.
QUICKNET_ROUND_1000 = {
    "round": 1000,
    "randomness": "fe290beca10872ef2fb164d2aa4442de4566183ec51c56ff3cd603d930e54fdd",
    "signature": "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125"
    "e342b73a8dd2bacbe47e4b6b63ed5e39",
}
RECORDED = {1000: QUICKNET_ROUND_1000}
PATH = re.compile(r"^/(?P<chain>[0-9a-f]{64})/public/(?P<round>\d+)$")


class FakeDrandRelay(ScriptedServer):
    """Serves `rounds` (round -> JSON body, the recorded ones by default); any other round or
    chain is 404, like a relay asked for a round it has not got. `script(500)` and friends
    make the next answers fail."""

    def __init__(self, rounds=None):
        super().__init__()
        self.rounds = dict(RECORDED if rounds is None else rounds)

    def success(self, request: RecordedRequest, status: int | None):
        match = PATH.match(request.path)
        if not match or match["chain"] != QUICKNET_CHAIN:
            return 404, {"error": "unknown chain"}, self.content_type
        body = self.rounds.get(int(match["round"]))
        if body is None:
            return 404, {"error": "round not found"}, self.content_type
        return status or 200, body, self.content_type

    def asked(self) -> list[int]:
        """The rounds asked for, in order."""
        return [int(PATH.match(r.path)["round"]) for r in self.requests if PATH.match(r.path)]
