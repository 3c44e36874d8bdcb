"""A service whose replica runs in an image (not the host's system): the relay reaches its port all the same."""

from __future__ import annotations

import shutil
from pathlib import Path

from aicc.store.db import Database
from tests.conftest import audit_seal
from tests.controller.serving_live import live_center

RAW_HTTP = """
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 8000))
s.listen(16)
while True:
    c, _ = s.accept()
    head = b""
    while b"\\r\\n\\r\\n" not in head:
        chunk = c.recv(4096)
        if not chunk:
            break
        head += chunk
    body = b"image " + head.split(b" ")[1] if head else b""
    length = str(len(body)).encode()
    c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: " + length + b"\\r\\nConnection: close\\r\\n\\r\\n" + body)
    c.close()
"""


def test_a_replica_in_an_image_is_served_through_the_gateway(registry: str, tmp_path: Path,
                                                             sqlite_template: Path) -> None:
    shutil.copy(sqlite_template, tmp_path / "aicc.db")
    db = Database(f"sqlite:///{tmp_path / 'aicc.db'}", audit_seal=audit_seal(tmp_path / "home"))
    try:
        with live_center(db, registries=registry, insecure_registries=registry) as live:
            w = live.world
            svc = live.create(w.a.member_token, name="img", image=f"{registry}/aicc-test/python:3.13",
                              command=["python3", "-c", RAW_HTTP])
            key = live.key(w.a.member_token, svc["id"])
            live.ready(svc["id"], 1)
            r = live.gateway("/svc/proj-a/img/hello?x=1", key)
            assert r.status_code == 200 and r.text == "image /hello?x=1"
            assert live.show(svc["id"])["current"]["image_ref"].endswith("python:3.13")
    finally:
        db.dispose()
