"""A loopback HTTP server (127.0.0.1 only) that serves bytes from a dict and honours Range.

``slow`` paths are sent in small chunks with a pause, so a test can kill a client mid-file.
``faults`` maps a path to a queue of misbehaviours, one used up per request to that path:
``"truncate"`` announces the full Content-Length, sends half the body and closes the connection;
an HTTP status such as ``"503"`` answers with that error. An empty queue serves normally.
Every request's path and Range header are recorded in ``server.requests``.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        files, slow = self.server.files, self.server.slow
        self.server.requests.append((self.path, self.headers.get("Range")))
        queue = self.server.faults.get(self.path)
        fault = queue.pop(0) if queue else None
        data = files.get(self.path)
        if fault is not None and fault.isdigit():
            self.send_error(int(fault))
            return
        if data is None:
            self.send_error(404)
            return
        start = 0
        rng = self.headers.get("Range")
        if rng and self.server.honour_range:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if fault == "truncate":  # HTTP/1.0: returning closes the connection, mid-body
            body = body[:len(body) // 2]
        step = 1024 if self.path in slow else len(body) or 1
        for i in range(0, len(body), step):
            try:
                self.wfile.write(body[i:i + step])
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                return
            if self.path in slow:
                time.sleep(0.01)


class LoopbackServer:
    def __init__(self, files: dict[str, bytes], slow: set[str] = frozenset(), honour_range=True,
                 faults: dict[str, list[str]] | None = None):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.files, self.httpd.slow, self.httpd.requests = files, set(slow), []
        self.httpd.honour_range = honour_range
        self.httpd.faults = {path: list(queue) for path, queue in (faults or {}).items()}
        # a short poll interval: shutdown() waits for the next poll, 0.5 s by default
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def requests(self):
        return self.httpd.requests

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
