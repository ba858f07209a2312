"""A local HTTP server that records every request and answers from a script, for testing
provider SDKs through their real request code without touching the network."""

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict
    body: bytes = field(repr=False)

    def json(self):
        return json.loads(self.body)

    def form(self) -> dict:
        return {k: v[0] if len(v) == 1 else v for k, v in parse_qs(self.body.decode()).items()}


class ScriptedServer:
    """Threaded http.server on 127.0.0.1:<free port>. `script(500, 200)` sets the statuses of
    the next requests (a (status, body) pair sets the body too); once the script runs out,
    every request succeeds. Subclasses say what success and failure look like."""

    def __init__(self):
        self.requests: list[RecordedRequest] = []
        self._script: list = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                request = RecordedRequest(
                    method=self.command,
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length),
                )
                status, body, content_type = fake._answer(request)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_PATCH = do_DELETE = do_POST

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, *responses) -> None:
        with self._lock:
            self._script.extend(responses)

    def _answer(self, request: RecordedRequest):
        with self._lock:
            self.requests.append(request)
            step = self._script.pop(0) if self._script else None
        status, body = step if isinstance(step, tuple) else (step, None)
        if status is None or 200 <= status < 300:
            return self.success(request, status)
        return status, body if body is not None else self.error_body(status), self.content_type

    content_type = "application/json"

    def success(self, request: RecordedRequest, status: int | None):
        return status or 200, {}, self.content_type

    def error_body(self, status: int):
        return {"error": f"HTTP {status}"}

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
