"""The audit key and the anchor file: made safely, refused when unsafe, anchors written when due."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aicc.config import Settings, load_settings
from aicc.services.audit_seal import AuditKeyError, AuditSeal


def test_the_key_is_made_once_mode_0600_and_a_configured_key_must_exist(tmp_path: Path) -> None:
    seal = AuditSeal.from_settings(Settings(home=tmp_path, database_url="sqlite://"))
    key = seal.master()
    assert len(key) == 32 and (tmp_path / "secrets" / "audit.key").stat().st_mode & 0o777 == 0o600
    assert AuditSeal.from_settings(Settings(home=tmp_path, database_url="sqlite://")).master() == key
    configured = load_settings({"AICC_HOME": str(tmp_path), "AICC_AUDIT_KEY_FILE": str(tmp_path / "kms" / "key")})
    with pytest.raises(AuditKeyError, match="does not exist"):
        AuditSeal.from_settings(configured).master()
    (tmp_path / "kms").mkdir()
    (tmp_path / "kms" / "key").write_bytes(b"k" * 40)
    (tmp_path / "kms" / "key").chmod(0o644)
    with pytest.raises(AuditKeyError, match="accessible to other users"):
        AuditSeal.from_settings(configured).master()
    (tmp_path / "kms" / "key").chmod(0o400)
    assert AuditSeal.from_settings(configured).master() == b"k" * 40


def test_anchors_are_written_every_n_events_and_at_shutdown_and_only_for_committed_heads(tmp_path: Path) -> None:
    seal = AuditSeal(tmp_path / "audit.key", tmp_path / "anchors.log", every_events=3, every_seconds=3600)
    for seq in (1, 2):
        seal.note("c", 1, seq, f"{seq:064x}")
    assert not seal.anchor_file.exists()  # not due yet
    seal.note("c", 1, 3, f"{3:064x}")
    seal.note("c", 1, 4, f"{4:064x}")
    seal.close()  # a clean shutdown anchors the last committed head
    lines = [json.loads(x) for x in seal.anchor_file.read_text().splitlines()]
    assert [a["seq"] for a in lines] == [3, 4] and seal.anchor_file.stat().st_mode & 0o777 == 0o600
