"""The audit log's key and its anchors: the two things a database writer cannot reach.

The key (``$AICC_HOME/secrets/audit.key``, mode 0600, made at first start like the pseudonym key, or
whatever file ``AICC_AUDIT_KEY_FILE`` names: a KMS agent's or systemd credential's mount) signs every
event. The anchors (``$AICC_HOME/audit-anchors.log`` or ``AICC_AUDIT_ANCHORS``) are signed checkpoints of
the head, appended at least every ``AICC_AUDIT_ANCHOR_EVENTS`` events or ``AICC_AUDIT_ANCHOR_SECONDS``
seconds of activity and at clean shutdown. Only committed events are anchored (the hook runs after
commit), so a rolled-back transaction never leaves an anchor pointing at nothing.

What a database writer can still do unseen: delete the events written since the last anchor (at most
N events / T seconds' worth) when it also deletes nothing before them. Ship the anchor file to another
host (syslog, WORM storage) to protect it from someone who owns the server's disk as well.
"""

from __future__ import annotations

import atexit
import datetime as dt
import os
import secrets
import threading
import time
from pathlib import Path

from aicc.config import Settings
from aicc.core.audit import Anchor, AnchorFile, ChainKeys, anchor_line, parse_anchors

KEY_BYTES = 32


class AuditKeyError(RuntimeError):
    """The configured key is missing, too short, or readable by others: refuse to sign with it."""


class AuditSeal:
    """One per process and database: loads the key, derives chain keys, writes and reads anchors."""

    def __init__(self, key_file: Path, anchor_file: Path, *, create_key: bool = True, every_events: int = 1000,
                 every_seconds: float = 60.0) -> None:
        self.key_file, self.anchor_file, self.create_key = key_file, anchor_file, create_key
        self.every_events, self.every_seconds = max(1, every_events), max(0.0, every_seconds)
        self._master: bytes | None = None
        self._keys: dict[str, ChainKeys] = {}
        self._lock = threading.Lock()  # anchors
        self._key_lock = threading.Lock()  # apart: an anchor written under _lock may load the key
        self._pending: Anchor | None = None
        self._last: dict[str, int] = {}
        self._last_at = time.monotonic()
        self._timer: threading.Timer | None = None
        self.written = 0
        atexit.register(self.flush)

    @classmethod
    def from_settings(cls, settings: Settings) -> AuditSeal:
        configured = settings.audit_key_file
        return cls(configured or settings.secrets_dir / "audit.key",
                   settings.audit_anchor_file or settings.home / "audit-anchors.log",
                   create_key=configured is None, every_events=settings.audit_anchor_events,
                   every_seconds=settings.audit_anchor_seconds)

    # -- the key ----------------------------------------------------------------------------------

    def master(self) -> bytes:
        if self._master is None:
            with self._key_lock:
                if self._master is None:
                    self._master = self._load_key()
        return self._master

    def _load_key(self) -> bytes:
        path = self.key_file
        if not path.exists():
            if not self.create_key:
                raise AuditKeyError(f"AICC_AUDIT_KEY_FILE names {path}, which does not exist")
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process made it first: read theirs
            else:
                with os.fdopen(fd, "wb") as f:
                    f.write(secrets.token_bytes(KEY_BYTES))
                    f.flush()
                    os.fsync(f.fileno())
        if path.stat().st_mode & 0o007:
            raise AuditKeyError(f"the audit key {path} is accessible to other users; chmod 600 it")
        key = path.read_bytes()
        if len(key) < KEY_BYTES:
            raise AuditKeyError(f"the audit key {path} holds {len(key)} bytes; at least {KEY_BYTES} are needed")
        return key

    def keys(self, chain_id: str) -> ChainKeys:
        found = self._keys.get(chain_id)
        if found is None:
            found = self._keys[chain_id] = ChainKeys.derive(self.master(), chain_id)
        return found

    # -- anchors ----------------------------------------------------------------------------------

    def note(self, chain_id: str, keyed_from: int, seq: int, mac: str, *, force: bool = False) -> None:
        """A committed head. Anchor it now when it is due (or forced), else within ``every_seconds``."""
        now = time.monotonic()
        with self._lock:
            p = self._pending
            if p is None or p.chain_id != chain_id or seq > p.seq:
                if p is not None and p.chain_id != chain_id:
                    self._write(p)
                self._pending = Anchor(chain_id, seq, mac, keyed_from, _utc())
            due = force or seq - self._last.get(chain_id, 0) >= self.every_events or \
                now - self._last_at >= self.every_seconds
            if due:
                self._flush_locked()
            elif self._timer is None:
                self._timer = threading.Timer(max(0.0, self.every_seconds - (now - self._last_at)), self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        """Anchor the newest committed head if it is not yet (at shutdown, and when the timer fires)."""
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        p, self._pending = self._pending, None
        if p is not None and (p.seq > self._last.get(p.chain_id, -1)):
            self._write(p)

    def _write(self, a: Anchor) -> None:
        line = anchor_line(self.keys(a.chain_id), a)
        self.anchor_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.anchor_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())  # one write of a short line: appends from several processes interleave whole
            os.fsync(fd)
        finally:
            os.close(fd)
        self._last[a.chain_id] = a.seq
        self._last_at = time.monotonic()
        self.written += 1

    def read_anchors(self, keys: ChainKeys) -> AnchorFile:
        try:
            with self.anchor_file.open(encoding="utf-8", errors="replace") as f:
                return parse_anchors(f, keys, self.anchor_file.name)
        except FileNotFoundError:
            return AnchorFile()

    def close(self) -> None:
        self.flush()
        atexit.unregister(self.flush)


def _utc() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
