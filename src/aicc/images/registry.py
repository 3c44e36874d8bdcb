"""Talking to registries, through skopeo: resolve a reference to a digest, copy an image into the node's cache.

skopeo (Debian 1.9) speaks the registry protocol in full: TLS, ``/etc/containers/registries.conf`` and
``auth.json`` credentials, manifest lists, retries on a dropped connection. It needs no daemon and no storage
driver, and it copies into a plain OCI layout with a blob directory shared by every image (layers common to
two images are fetched once). Errors come back as skopeo's last ``msg="…"``, which is the registry's answer
("manifest unknown", "connection refused"): shown to the user as the job's reason.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from aicc.core.images import ImageRef, RegistryPolicy

RESOLVE_TIMEOUT_S = 60.0
_MSG = re.compile(r'msg="((?:[^"\\]|\\.)*)"')
MANIFEST_LIST_TYPES = ("application/vnd.oci.image.index.v1+json",
                       "application/vnd.docker.distribution.manifest.list.v2+json")


class RegistryError(RuntimeError):
    """The registry refused or could not be reached; ``str()`` is its answer in a sentence."""


def skopeo() -> str:
    path = shutil.which("skopeo")
    if path is None:
        raise RegistryError("skopeo is not installed on this node (apt-get install skopeo)")
    return path


def answer(stderr: str) -> str:
    """skopeo's fatal message without its own prefixes: what the registry said."""
    found = _MSG.findall(stderr)
    msg = found[-1].replace('\\"', '"') if found else (stderr.strip().splitlines() or [""])[-1]
    msg = re.sub(r'^Error parsing image name "[^"]*": ', "", msg)
    msg = re.sub(r"^(initializing source|reading manifest|copying system image from manifest list)[^:]*: ?", "",
                 msg) or msg
    return msg[:400] or "skopeo failed without a message"


def _tls(ref: ImageRef, policy: RegistryPolicy, flag: str) -> list[str]:
    return [f"{flag}=false"] if policy.source(ref.registry) in policy.insecure else []


def resolve(ref: ImageRef, policy: RegistryPolicy) -> tuple[str, dict[str, Any]]:
    """The digest the reference names now, and its manifest (the registry's bytes, hashed as it serves them)."""
    cmd = [skopeo(), "inspect", "--raw", "--retry-times", "1", *_tls(ref, policy, "--tls-verify"),
           ref.transport(policy)]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=RESOLVE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise RegistryError(f"no answer from {policy.source(ref.registry)} in {RESOLVE_TIMEOUT_S:.0f} s") from None
    if done.returncode != 0:
        raise RegistryError(answer(done.stderr.decode(errors="replace")))
    digest = "sha256:" + hashlib.sha256(done.stdout).hexdigest()
    if ref.digest and digest != ref.digest:
        raise RegistryError(f"the registry served a manifest with digest {digest}, not {ref.digest}")
    try:
        manifest = json.loads(done.stdout)
    except ValueError:
        raise RegistryError("the registry's manifest is not JSON") from None
    return digest, manifest if isinstance(manifest, dict) else {}


def download_size(manifest: dict[str, Any]) -> int | None:
    """Bytes of the layers a manifest names; None for a manifest list (sizes are per platform)."""
    if manifest.get("mediaType") in MANIFEST_LIST_TYPES or "manifests" in manifest:
        return None
    return sum(int(layer.get("size", 0)) for layer in manifest.get("layers", []))


def copy_command(ref: ImageRef, policy: RegistryPolicy, layout: Path, blobs: Path) -> list[str]:
    """skopeo's command that copies the pinned image into ``layout`` (its index only) and ``blobs`` (shared)."""
    assert ref.digest is not None, "images are only ever pulled by digest"
    return [skopeo(), "copy", "--quiet", "--retry-times", "2", *_tls(ref, policy, "--src-tls-verify"),
            "--dest-shared-blob-dir", str(blobs), ref.transport(policy), f"oci:{layout}:image"]
