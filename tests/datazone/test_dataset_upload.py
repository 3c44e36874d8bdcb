"""A custodian streams a dataset into the data root (SHA-256 per file, audited), then registers it as before;
nobody else can upload there or read it on the way."""

from __future__ import annotations

import hashlib
import os
import stat

from tests.datazone.conftest import Zone, write_patients


def upload(zone: Zone, token: str, path: str, data: bytes) -> tuple[int, dict[str, object]]:
    base = f"/api/v1/organizations/{zone.hospital}/incoming"
    h = zone.h(token)
    r = zone.client.post(f"{base}/uploads", headers=h, json={"path": path, "size": len(data),
                                                             "sha256": hashlib.sha256(data).hexdigest()})
    if r.status_code != 201:
        return r.status_code, dict(r.json())
    uid = r.json()["id"]
    zone.client.put(f"{base}/uploads/{uid}", params={"offset": 0}, content=data, headers=h)
    r = zone.client.post(f"{base}/uploads/{uid}/finish", json={}, headers=h)
    return r.status_code, dict(r.json())


def test_a_custodian_uploads_then_registers_and_the_upload_is_audited(zone: Zone) -> None:
    local = zone.settings.home / "local.csv"
    write_patients(local)
    data = local.read_bytes()
    status, body = upload(zone, zone.custodian_token, "cxr-upload/patients.csv", data)
    assert status == 200 and body["sha256"] == hashlib.sha256(data).hexdigest()
    directory = str(body["register_path"]).rsplit("/", 1)[0]
    ds = zone.register(name="uploaded", path=directory)
    assert ds["name"] == "uploaded" and ds["classification"] == "sensitive"
    incoming = zone.settings.datasets_root / f"incoming-o{zone.hospital}"
    for p in (incoming, incoming / "files"):
        st = os.stat(p)
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o700), p  # root's alone on the way in
    for p in (incoming / "files" / "cxr-upload", incoming / "files" / "cxr-upload" / "patients.csv"):
        st = os.stat(p)
        assert st.st_uid == 0 and not stat.S_IMODE(st.st_mode) & 0o007, p
    events = zone.client.get("/api/v1/audit", headers=zone.h(zone.world.admin_token), params={"limit": 100}).json()
    (event,) = [e for e in events if e["action"] == "dataset.upload"]
    assert event["data"]["sha256"] == body["sha256"] and event["data"]["path"] == "cxr-upload/patients.csv"


def test_only_the_organizations_custodians_may_upload_and_others_see_nothing(zone: Zone) -> None:
    assert upload(zone, zone.world.b.member_token, "x.csv", b"a,b\n")[0] == 403  # a member, not a custodian
    for other in (zone.world.a.admin_token, zone.world.a.member_token, zone.world.outsider_token):
        assert upload(zone, other, "x.csv", b"a,b\n")[0] == 404
        r = zone.client.get(f"/api/v1/organizations/{zone.hospital}/incoming", headers=zone.h(other))
        assert r.status_code == 404
    bad = upload(zone, zone.custodian_token, "../escape.csv", b"x")
    assert bad[0] == 422
    huge = zone.client.post(f"/api/v1/organizations/{zone.hospital}/incoming/uploads",
                            headers=zone.h(zone.custodian_token), json={"path": "big.bin", "size": 1 << 49})
    assert huge.status_code == 507  # the disk cannot hold it: refused before a byte is sent
