#!/usr/bin/env python3
"""Write the test images as an OCI image layout, offline, with the standard library only.

Called by scripts/build-test-images. A builder of our own (not buildah) because two of the test images are
*hostile* on purpose (setuid binaries, device nodes, symlinks out of the root, a file written through a
symlink, ``..`` paths): no image builder writes those, a tar writer does. Layers are deterministic (sorted,
gzip mtime 0), so a rebuild gives the same digests.

  usage: oci-image.py LAYOUT ROOTFS [--bench]
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import tempfile
from pathlib import Path

MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
HOST_FILE = "/var/tmp/aicc-image-host-secret"  # noqa: S108 - a path the tests create on the host
ESCAPE_DIR = "/var/tmp/aicc-image-escape"  # noqa: S108


def _blob(layout: Path, data: bytes) -> tuple[str, int]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / digest[7:]
    if not path.exists():
        path.write_bytes(data)
    return digest, len(data)


def _layer_file(layout: Path, tar_path: Path) -> dict[str, object]:
    """Compress an uncompressed tar into a blob; returns its descriptor and diff id."""
    diff = hashlib.sha256()
    with tar_path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            diff.update(chunk)
    gz_path = tar_path.with_suffix(".gz")
    with tar_path.open("rb") as src, gz_path.open("wb") as raw, \
            gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as out:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            out.write(chunk)
    comp = hashlib.sha256()
    with gz_path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            comp.update(chunk)
    digest = "sha256:" + comp.hexdigest()
    dest = layout / "blobs" / "sha256" / digest[7:]
    size = gz_path.stat().st_size
    os.replace(gz_path, dest)
    tar_path.unlink()
    return {"mediaType": MEDIA_LAYER, "digest": digest, "size": size, "diff_id": "sha256:" + diff.hexdigest()}


def layer_from_dir(layout: Path, rootfs: Path, work: Path) -> dict[str, object]:
    tar_path = work / "rootfs.tar"
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(rootfs):
            dirnames.sort()
            for name in sorted(dirnames) + sorted(filenames):
                full = Path(dirpath) / name
                tar.add(full, arcname=str(full.relative_to(rootfs)), recursive=False)
    return _layer_file(layout, tar_path)


def layer_from_members(layout: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], work: Path
                       ) -> dict[str, object]:
    tar_path = work / "crafted.tar"
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return _layer_file(layout, tar_path)


def _info(name: str, kind: bytes = tarfile.REGTYPE, mode: int = 0o644, size: int = 0, link: str = "",
          major: int = 0, minor: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.linkname = kind, mode, size, link
    info.devmajor, info.devminor, info.mtime = major, minor, 1_700_000_000
    return info


def image(layout: Path, tag: str, layers: list[dict[str, object]], cmd: list[str]) -> None:
    config = {
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                           f"IMAGE_TAG={tag}"], "Cmd": cmd},
        "rootfs": {"type": "layers", "diff_ids": [layer["diff_id"] for layer in layers]},
    }
    cdigest, csize = _blob(layout, json.dumps(config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdigest, "size": csize},
        "layers": [{k: v for k, v in layer.items() if k != "diff_id"} for layer in layers],
    }
    mdigest, msize = _blob(layout, json.dumps(manifest, sort_keys=True).encode())
    index_path = layout / "index.json"
    index = json.loads(index_path.read_text())
    index["manifests"] = [m for m in index["manifests"]
                          if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != tag]
    index["manifests"].append({"mediaType": manifest["mediaType"], "digest": mdigest, "size": msize,
                               "annotations": {"org.opencontainers.image.ref.name": tag}})
    index_path.write_text(json.dumps(index, sort_keys=True))


def hostile_layers(layout: Path, rootfs: Path, work: Path) -> list[dict[str, object]]:
    """Two layers an attacker would push: privilege and escape attempts, each one a test expects to fail."""
    id_bin = (rootfs / "usr/bin/id").read_bytes()
    first = [
        (_info("usr/local/bin/suid-id", mode=0o4755, size=len(id_bin)), id_bin),  # setuid root
        (_info("usr/local/bin/sgid-id", mode=0o2755, size=len(id_bin)), id_bin),
        (_info("opt/mem", tarfile.CHRTYPE, 0o666, major=1, minor=1), None),  # /dev/mem
        (_info("opt/sda", tarfile.BLKTYPE, 0o666, major=8, minor=0), None),
        (_info("opt/fifo", tarfile.FIFOTYPE, 0o666), None),
        (_info("hostlink", tarfile.SYMTYPE, 0o777, link=HOST_FILE), None),
        (_info("rellink", tarfile.SYMTYPE, 0o777, link="../../../../../../.." + HOST_FILE), None),
        (_info("escape", tarfile.SYMTYPE, 0o777, link=ESCAPE_DIR), None),
        (_info("../../../../../../.." + ESCAPE_DIR + "-dotdot", size=3), b"no\n"),
        (_info("hardlink-out", tarfile.LNKTYPE, 0o644, link="../../../../.." + HOST_FILE), None),
    ]
    second = [(_info("escape/pwned", size=7), b"pwned!\n"), (_info("escape/../escape2", size=3), b"no\n")]
    return [layer_from_members(layout, first, work), layer_from_members(layout, second, work)]


def main() -> None:
    layout, rootfs = Path(sys.argv[1]), Path(sys.argv[2])
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    if not (layout / "index.json").exists():
        (layout / "index.json").write_text('{"schemaVersion": 2, "manifests": []}')
    with tempfile.TemporaryDirectory(dir=layout) as tmp:
        work = Path(tmp)
        base = layer_from_dir(layout, rootfs, work)
        image(layout, "python", [base], ["python3", "--version"])
        image(layout, "hostile", [base, *hostile_layers(layout, rootfs, work)], ["sh"])
        if "--bench" in sys.argv:  # ~100 MB to pull: the base plus 60 MiB that does not compress
            noise = os.urandom(60 << 20)
            big = layer_from_members(layout, [(_info("opt/noise.bin", size=len(noise)), noise)], work)
            image(layout, "big", [base, big], ["python3", "--version"])


if __name__ == "__main__":
    main()
