"""Datasets: registered by a custodian from under the data root, checked, optionally pseudonymised, published.

Registration records a checksum manifest and a k-anonymity report; publication
re-checks the checksums (the data must be what was registered), writes the
pseudonymised copy grantees will see, and records a fingerprint of every row so
output checks can tell when a job copied data out.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicc.config import Settings
from aicc.core.datazone.checks import FileKind
from aicc.core.datazone.datasets import (
    Classification,
    ColumnRole,
    Prints,
    k_anonymity,
    parse_columns,
    pseudonymize,
)
from aicc.core.datazone.states import Action, DatasetState, GrantState, move, needs_grant
from aicc.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from aicc.core.names import check_slug
from aicc.core.tenancy import OrgRole
from aicc.services import audit, generation
from aicc.services.datazone.files import csv_rows, resolve_under, sha256_of, walk
from aicc.services.principal import Principal
from aicc.store.models import DatasetRow, GrantRow, OrganizationRow, utcnow

SDC_KEYS = {"threshold": int, "p_ratio": float, "nk_n": int, "nk_k": float}
KEY_BYTES = 32


def is_custodian(actor: Principal, org_id: int) -> bool:
    """Data custodians and admins of the owning organization (and center admins) act for a dataset."""
    return actor.is_center_admin or actor.org_roles.get(org_id) in (OrgRole.DATA_CUSTODIAN, OrgRole.ORG_ADMIN)


def granted_projects(s: Session, dataset_id: int, now: dt.datetime) -> set[int]:
    return set(s.execute(select(GrantRow.project_id).where(
        GrantRow.dataset_id == dataset_id, GrantRow.state == GrantState.APPROVED, GrantRow.expires_at > now)).scalars())


def sees(s: Session, actor: Principal, ds: DatasetRow) -> bool:
    """Open and published: everyone; sensitive: the custodian organization and projects holding a live grant."""
    if actor.sees_org(ds.organization_id):
        return True
    if ds.state != DatasetState.PUBLISHED:
        return False
    if not needs_grant(ds.classification):
        return True
    return bool(granted_projects(s, ds.id, utcnow()) & set(actor.projects))


def get(s: Session, actor: Principal, dataset_id: int) -> DatasetRow:
    ds = s.get(DatasetRow, dataset_id)
    if ds is None or not sees(s, actor, ds):
        raise NotFound("dataset not found")
    return ds


def by_name(s: Session, actor: Principal, name: str) -> DatasetRow:
    ds = s.execute(select(DatasetRow).where(DatasetRow.name == name)).scalar_one_or_none()
    if ds is None or not sees(s, actor, ds):
        raise NotFound(f"dataset {name!r} not found")
    return ds


def list_datasets(s: Session, actor: Principal) -> list[DatasetRow]:
    rows = s.execute(select(DatasetRow).order_by(DatasetRow.name)).scalars()
    return [d for d in rows if sees(s, actor, d)]


def _require_custodian(actor: Principal, org_id: int) -> None:
    if not actor.sees_org(org_id):
        raise NotFound("dataset not found")
    if not is_custodian(actor, org_id):
        raise Forbidden("only the dataset's custodians (data custodian or organization admin) may do this")


def _parse_sdc(raw: dict[str, Any]) -> dict[str, float | int]:
    out: dict[str, float | int] = {}
    for key, value in raw.items():
        if key not in SDC_KEYS:
            raise InvalidInput(f"sdc: unknown setting {key!r}; known: {', '.join(SDC_KEYS)}")
        try:
            out[key] = SDC_KEYS[key](value)
        except (TypeError, ValueError):
            raise InvalidInput(f"sdc: {key} must be a number") from None
    if "threshold" in out and not 1 <= out["threshold"] <= 1000:
        raise InvalidInput("sdc: threshold must be between 1 and 1000")
    for key in ("p_ratio", "nk_k"):
        if key in out and not 0 < out[key] <= 1:
            raise InvalidInput(f"sdc: {key} must be in (0, 1]")
    if "nk_n" in out and not 1 <= out["nk_n"] <= 100:
        raise InvalidInput("sdc: nk_n must be between 1 and 100")
    return out


def _scan(root: Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Manifest of a dataset directory; CSV files listed apart. Links and special files are refused."""
    entries = walk(root)
    bad = [e for e in entries if e.kind is not FileKind.FILE]
    if bad:
        raise InvalidInput(f"dataset holds {bad[0].kind.value} {bad[0].path!r}: only regular files may be "
                           "registered (a link could lead outside the data root)")
    if not entries:
        raise InvalidInput("dataset directory is empty")
    manifest = {e.path: {"sha256": sha256_of(root / e.path), "bytes": e.size} for e in entries}
    return manifest, [e.path for e in entries if e.path.lower().endswith(".csv")]


def _k_report(root: Path, tables: list[str], quasi: list[str], k: int) -> dict[str, Any] | None:
    if not quasi:
        return None
    per_file: dict[str, Any] = {}
    for rel in tables:
        header, rows = csv_rows(root / rel)
        if all(q in header for q in quasi):
            per_file[rel] = k_anonymity(header, rows, quasi, k).as_dict()
    if not per_file:
        raise InvalidInput(f"no CSV file of the dataset has all quasi-identifier columns {', '.join(quasi)}")
    return {"required_k": k, "ok": all(r["ok"] for r in per_file.values()),
            "k": min(int(r["k"]) for r in per_file.values()), "files": per_file}


def register(
    s: Session, actor: Principal, settings: Settings, *, organization_id: int, name: str, title: str,
    description: str, classification: str, path: str, columns: list[dict[str, str]], pseudonymize_ids: bool,
    k_required: int, sdc: dict[str, Any],
) -> DatasetRow:
    org = s.get(OrganizationRow, organization_id)
    if org is None or not actor.sees_org(organization_id):
        raise NotFound("organization not found")
    if not is_custodian(actor, organization_id):
        raise Forbidden("only a data custodian or admin of the organization may register its datasets")
    check_slug(name, "dataset name")
    try:
        cls = Classification(classification)
    except ValueError:
        raise InvalidInput("classification must be 'open' or 'sensitive'") from None
    if not 2 <= k_required <= 1000:
        raise InvalidInput("k must be between 2 and 1000")
    if s.execute(select(DatasetRow.id).where(DatasetRow.name == name)).first():
        raise Conflict(f"dataset {name!r} already exists")
    root = resolve_under(settings.datasets_root, path, "path")
    if not root.is_dir():
        raise InvalidInput(f"path: {path!r} is not a directory under the data root")
    cols = parse_columns(columns)
    manifest, tables = _scan(root)
    headers: set[str] = set()
    for rel in tables:
        headers.update(csv_rows(root / rel)[0])
    missing = [c.name for c in cols if tables and c.name not in headers]
    if missing:
        raise InvalidInput(f"columns {', '.join(missing)} appear in no CSV file of the dataset")
    identifiers = [c.name for c in cols if c.role is ColumnRole.IDENTIFIER]
    if pseudonymize_ids and not identifiers:
        raise InvalidInput("pseudonymisation asked for, but no column is marked as an identifier")
    quasi = [c.name for c in cols if c.role is ColumnRole.QUASI_IDENTIFIER]
    report = _k_report(root, tables, quasi, k_required)
    ds = DatasetRow(
        organization_id=organization_id, name=name, title=title, description=description,
        classification=cls.value, source_path=root.relative_to(settings.datasets_root.resolve()).as_posix(),
        columns=[{"name": c.name, "role": c.role.value} for c in cols], manifest={"source": manifest},
        pseudonymize=pseudonymize_ids, k_required=k_required, k_report=report, sdc=_parse_sdc(sdc),
        state=DatasetState.REGISTERED.value, created_by=actor.user_id,
    )
    s.add(ds)
    s.flush()
    audit.record(s, actor, "dataset.register", "dataset", ds.id, organization_id=organization_id,
                 data={"name": name, "classification": cls.value, "files": len(manifest),
                       "bytes": sum(int(m["bytes"]) for m in manifest.values()),
                       "k": report["k"] if report else None})
    return ds


def pseudonym_key(settings: Settings) -> bytes:
    """The center's pseudonymisation key, created on first use, readable by AICC's user only."""
    path = settings.secrets_dir / "pseudonym.key"
    if not path.exists():
        settings.secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_bytes()
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(KEY_BYTES))
    return path.read_bytes()


def source_dir(settings: Settings, ds: DatasetRow) -> Path:
    return resolve_under(settings.datasets_root, ds.source_path, "dataset path")


def mounted_dir(settings: Settings, ds: DatasetRow) -> Path:
    """The directory a granted job sees: the pseudonymised copy if there is one."""
    return settings.home / ds.published_path if ds.published_path else source_dir(settings, ds)


def fingerprints_path(settings: Settings, ds: DatasetRow) -> Path:
    """Row fingerprints as publication recorded them before record fingerprints existed (read if present)."""
    return settings.published_dir / f"{ds.id}.rows"


def prints_path(settings: Settings, ds: DatasetRow) -> Path:
    return settings.published_dir / f"{ds.id}.prints.json"


def _identifiers(ds: DatasetRow) -> list[str]:
    return [c["name"] for c in ds.columns if c["role"] == ColumnRole.IDENTIFIER.value]


def record_prints(settings: Settings, ds: DatasetRow, root: Path, tables: list[str]) -> int:
    """Fingerprint every row of the published data (with and without its identifiers) and every identifier
    value, for the output checks; returns the number of rows. Written atomically, readable by AICC only."""
    prints = Prints.empty()
    rows = 0
    for rel in tables:
        header, body = csv_rows(root / rel)
        rows += prints.add_table(header, body, _identifiers(ds))
    settings.published_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = prints_path(settings, ds)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        json.dump(prints.dump(), f)
    os.replace(tmp, path)
    return rows


_PRINTS: dict[Path, tuple[tuple[int, int], Prints]] = {}


def _cached_prints(path: Path) -> Prints:
    """Parsed once per version of the file: the controller holds job after job on the same datasets."""
    st = path.stat()
    key = (st.st_mtime_ns, st.st_size)
    hit = _PRINTS.get(path)
    if hit is None or hit[0] != key:
        if len(_PRINTS) >= 64:
            _PRINTS.clear()
        hit = (key, Prints.load(json.loads(path.read_text(encoding="ascii"))))
        _PRINTS[path] = hit
    return hit[1]


def load_prints(settings: Settings, ds: DatasetRow) -> tuple[Prints, set[str]]:
    """The dataset's fingerprints (made now, once, for a dataset published before they were recorded), and
    the old-style row fingerprints if it has them."""
    path = prints_path(settings, ds)
    if not path.exists() and ds.state == DatasetState.PUBLISHED:
        root = mounted_dir(settings, ds)
        record_prints(settings, ds, root, [e.path for e in walk(root) if e.path.lower().endswith(".csv")])
    prints = _cached_prints(path) if path.exists() else Prints.empty()
    legacy: set[str] = set()
    old = fingerprints_path(settings, ds)
    if old.exists():
        legacy = {line.strip() for line in old.read_text(encoding="ascii").splitlines() if line.strip()}
    return prints, legacy


def publish(s: Session, actor: Principal, settings: Settings, dataset_id: int) -> DatasetRow:
    ds = s.get(DatasetRow, dataset_id)
    if ds is None:
        raise NotFound("dataset not found")
    _require_custodian(actor, ds.organization_id)
    state = move(f"dataset {ds.name}", DatasetState(ds.state), Action.PUBLISH, DatasetState.PUBLISHED)
    if ds.k_report is not None and not ds.k_report["ok"]:
        raise Conflict(f"k-anonymity is {ds.k_report['k']}, below the required {ds.k_required}: generalise the "
                       "quasi-identifiers (e.g. age bands, shorter postcodes) and register the data again")
    root = source_dir(settings, ds)
    manifest, tables = _scan(root)
    if manifest != ds.manifest.get("source"):
        changed = sorted(set(manifest) ^ set(ds.manifest.get("source", {})) |
                         {p for p in manifest if ds.manifest.get("source", {}).get(p) != manifest[p]})
        raise Conflict(f"the data changed since registration ({', '.join(changed[:5])}); register it again")
    identifiers = [c["name"] for c in ds.columns if c["role"] == ColumnRole.IDENTIFIER.value]
    # passable, not listable: a granted job's runner (its project's uid) reaches its one copy by name
    settings.published_dir.mkdir(parents=True, exist_ok=True, mode=0o711)
    target = root
    if ds.pseudonymize:
        target = settings.published_dir / f"{ds.id}-{ds.name}"
        if target.exists():
            shutil.rmtree(target)
        _write_pseudonymised(root, target, manifest, identifiers, pseudonym_key(settings))
        ds.published_path = target.relative_to(settings.home).as_posix()
        published, tables = _scan(target)
    else:
        published = manifest
    rows = record_prints(settings, ds, target, tables)
    ds.manifest = {"source": manifest, "published": published}
    ds.state = state.value
    ds.version += 1
    generation.bump()
    audit.record(s, actor, "dataset.publish", "dataset", ds.id, organization_id=ds.organization_id,
                 data={"name": ds.name, "pseudonymised": ds.pseudonymize, "rows": rows,
                       "files": len(published)})
    return ds


def _write_pseudonymised(src: Path, dst: Path, manifest: dict[str, Any], identifiers: list[str], key: bytes) -> None:
    for rel in manifest:
        out = dst / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        if rel.lower().endswith(".csv"):
            header, rows = csv_rows(src / rel)
            with open(out, "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow(header)
                w.writerows(pseudonymize(header, rows, identifiers, key))
        else:
            shutil.copyfile(src / rel, out, follow_symlinks=False)


SDC_STRICTEST = {"threshold": ("AICC_SDC_THRESHOLD", max), "p_ratio": ("AICC_SDC_PRATIO_P", max),
                 "nk_n": ("AICC_SDC_NK_N", max), "nk_k": ("AICC_SDC_NK_K", min)}


def sdc_env(datasets: list[DatasetRow]) -> dict[str, str]:
    """The strictest disclosure-control settings of the job's datasets, for ``aicc.datazone`` in the job."""
    env: dict[str, str] = {}
    for key, (var, pick) in SDC_STRICTEST.items():
        values = [d.sdc[key] for d in datasets if key in (d.sdc or {})]
        if values:
            env[var] = str(pick(values))
    return env


def withdraw(s: Session, actor: Principal, dataset_id: int) -> DatasetRow:
    ds = s.get(DatasetRow, dataset_id)
    if ds is None:
        raise NotFound("dataset not found")
    _require_custodian(actor, ds.organization_id)
    ds.state = move(f"dataset {ds.name}", DatasetState(ds.state), Action.WITHDRAW, DatasetState.WITHDRAWN).value
    ds.version += 1
    generation.bump()
    audit.record(s, actor, "dataset.withdraw", "dataset", ds.id, organization_id=ds.organization_id,
                 data={"name": ds.name})
    return ds
