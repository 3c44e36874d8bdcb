"""A small inference server on the PP-OCR recognition model ``rapidocr-onnxruntime`` ships: the real model a
service test and the gateway benchmark run (``python -m aicc.testbed.serve --port 8000``).

Standard library HTTP/1.1 with keep-alive, one thread per connection:

- ``GET /health``: 200 once the model is loaded (readiness);
- ``POST /v1/recognize`` ``{"lines": ["ABDE", …]}``: each line rendered as the testbed renders it, then
  recognized; answers ``{"text": […], "version": …}``;
- ``GET /v1/stream?n=5``: server-sent events, one a tenth of a second (streaming through the gateway);
- ``GET /v1/version``: ``MODEL_VERSION`` from the environment (which revision answered).

On SIGTERM it stops accepting and finishes the requests in flight before it exits: a drained replica drops
nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_LINES = 64


class Recognizer:
    def __init__(self) -> None:
        from aicc.testbed.workloads.ocr import TextRecognition

        self.model = TextRecognition()
        self.model.lines = ["warmup"]  # load() renders its lines; one is enough
        self.model.load()
        self._lock = threading.Lock()

    def recognize(self, lines: list[str]) -> list[str]:
        import numpy as np

        inputs = np.stack([self.model._render(t, False) for t in lines])
        with self._lock:  # one session run at a time: ONNX Runtime uses the cores it was given
            self.model._inputs = inputs
            out: list[str] = self.model.predict(range(len(lines)))
        return out


def handler(model: Recognizer | None) -> type[BaseHTTPRequestHandler]:
    version = os.environ.get("MODEL_VERSION", "1")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: without it, each answer waits ~40 ms
        # for the client's delayed ACK (Nagle), on the direct path and through the gateway alike

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/health":
                providers = model.model._session.get_providers() if model is not None else []
                self._json(200, {"status": "ok", "version": version, "providers": providers})
            elif url.path == "/v1/version":
                self._json(200, {"version": version})
            elif url.path == "/v1/stream":
                n = min(int(parse_qs(url.query).get("n", ["5"])[0]), 100)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i in range(n):
                    event = f"data: {json.dumps({'i': i, 't': time.time()})}\n\n".encode()
                    self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
                    self.wfile.flush()
                    time.sleep(0.1)
                self.wfile.write(b"0\r\n\r\n")
            else:
                self._json(404, {"error": "not found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            if urlsplit(self.path).path != "/v1/recognize" or model is None:
                self._json(404, {"error": "not found"})
                return
            lines = body.get("lines")
            if not isinstance(lines, list) or not 1 <= len(lines) <= MAX_LINES or \
                    not all(isinstance(x, str) and 0 < len(x) <= 40 for x in lines):
                self._json(422, {"error": f"lines: 1-{MAX_LINES} strings of 1-40 characters"})
                return
            self._json(200, {"text": model.recognize(lines), "version": version})

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--no-model", action="store_true", help="Health, version and stream only (fast start).")
    args = parser.parse_args(argv)
    model = None if args.no_model else Recognizer()
    server = ThreadingHTTPServer((args.host, args.port), handler(model))
    server.daemon_threads = False
    server.block_on_close = True  # server_close() waits for the requests in flight
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    print(f"serving on {args.host}:{args.port} (model {'off' if model is None else 'PP-OCRv4 rec'})", flush=True)
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
