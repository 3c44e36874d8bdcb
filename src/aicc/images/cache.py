"""The node's image cache: resolve, pull and unpack in the background, once per digest, shared by every job.

Layout under ``$AICC_HOME/images/`` (inside AICC_HOME, so no job ever sees it):

    blobs/sha256/<hex>      layers, configs, manifests; shared by every image (skopeo's shared blob dir)
    layouts/<hex>/          one OCI layout per pulled digest (its index.json only)
    rootfs/<hex>/           the unpacked root filesystem, bound read-only at ``/`` in the job
    locks/<hex>             a file lock, so two processes on one node never pull one digest twice

The controller calls :meth:`ImageCache.request` for each admitted image job at every cycle; it never waits:
the first call starts a thread for the reference (resolve, then pull and unpack), later calls read its
progress. Concurrent jobs of one image share that thread. A failure is remembered for ``FAILED_TTL_S``: jobs
asking for the same image meanwhile get the same answer at once instead of asking the registry again (no
retry storm when a registry is down and a thousand-task array waits on it).
"""

from __future__ import annotations

import contextlib
import enum
import errno
import fcntl
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aicc.core.images import ImageRef, RegistryPolicy
from aicc.images import registry
from aicc.images.unpack import unpack

FAILED_TTL_S = 60.0
RESOLVED_TTL_S = 30.0  # a tag's answer is shared by jobs admitted together, then asked again (tags move)
PULL_TIMEOUT_S = 3600.0
SPACE_FACTOR = 4
ENV_FILE = "image-env.json"  # compressed layers kept + unpacked tree (~2.5x) + headroom


class Phase(enum.Enum):
    RESOLVING = "resolving"
    PULLING = "pulling"
    UNPACKING = "unpacking"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ImageStatus:
    phase: Phase
    message: str
    digest: str | None = None
    rootfs: Path | None = None
    percent: int | None = None
    """How far a pull or unpack has come (the job's reason shows it)."""


def _hex(digest: str) -> str:
    return digest.split(":", 1)[1]


class ImageCache:
    def __init__(self, root: Path, policy: RegistryPolicy, on_change: Callable[[], None] | None = None) -> None:
        self.root = root
        self.policy = policy
        self.on_change = on_change
        self._lock = threading.Lock()
        self._tasks: dict[str, tuple[float, ImageStatus]] = {}
        self._digest_locks: dict[str, threading.Lock] = {}
        self.pulls = 0
        """Images this process copied from a registry (the tests count them)."""

    def rootfs(self, digest: str) -> Path:
        return self.root / "rootfs" / _hex(digest)

    def ready(self, digest: str) -> bool:
        return self.rootfs(digest).is_dir()

    def env(self, digest: str) -> dict[str, str]:
        """The environment the image's config sets, as saved when it was unpacked."""
        try:
            return dict(json.loads((self.root / "layouts" / _hex(digest) / ENV_FILE).read_text()))
        except (OSError, ValueError):
            return {}

    # -- the controller's side ----------------------------------------------------------------
    def request(self, ref: ImageRef) -> ImageStatus:
        """Where this image stands; starts resolving/pulling it in the background when nothing does yet."""
        if ref.digest and self.ready(ref.digest):
            return ImageStatus(Phase.READY, "image ready", ref.digest, self.rootfs(ref.digest))
        key = ref.digest or str(ref)
        now = time.monotonic()
        with self._lock:
            known = self._tasks.get(key)
            if known is not None:
                at, status = known
                stale = (status.phase is Phase.FAILED and now - at > FAILED_TTL_S) or (
                    status.phase is Phase.READY and now - at > RESOLVED_TTL_S)
                if not stale:
                    return status
            status = ImageStatus(Phase.RESOLVING, f"resolving image {ref}", ref.digest)
            self._tasks[key] = (now, status)
        threading.Thread(target=self._work, args=(key, ref), name="aicc-image", daemon=True).start()
        return status

    def _set(self, key: str, status: ImageStatus, *, wake: bool = True) -> None:
        with self._lock:
            self._tasks[key] = (time.monotonic(), status)
        if wake and self.on_change is not None:
            self.on_change()

    # -- the background side ------------------------------------------------------------------
    def _work(self, key: str, ref: ImageRef) -> None:
        try:
            digest, manifest = registry.resolve(ref, self.policy)
            pinned = ref.pinned(digest)
            if not self.ready(digest):
                self._set(key, ImageStatus(Phase.PULLING, f"pulling image {ref} … 0 %", digest, percent=0))
                self._pull(key, pinned, registry.download_size(manifest))
            self._set(key, ImageStatus(Phase.READY, "image ready", digest, self.rootfs(digest)))
        except registry.RegistryError as exc:
            self._set(key, ImageStatus(Phase.FAILED, f"image {ref}: {exc}", ref.digest))
        except OSError as exc:
            why = f"the node's image cache is full ({self.root})" if exc.errno in (errno.ENOSPC, errno.EDQUOT) \
                else f"the node's image cache failed: {exc.strerror or exc}"
            self._set(key, ImageStatus(Phase.FAILED, f"image {ref}: {why}", ref.digest))
        except Exception as exc:  # a thread must always leave an answer, never a job waiting forever
            self._set(key, ImageStatus(Phase.FAILED, f"image {ref}: {type(exc).__name__}: {exc}", ref.digest))

    @contextlib.contextmanager
    def _exclusive(self, digest: str) -> Iterator[None]:
        """One pull of a digest at a time: in this process (a lock) and on this node (a file lock)."""
        with self._lock:
            lock = self._digest_locks.setdefault(digest, threading.Lock())
        with lock:
            locks = self.root / "locks"
            locks.mkdir(parents=True, exist_ok=True)
            with open(locks / _hex(digest), "a") as f:
                fcntl.flock(f, fcntl.LOCK_EX)
                yield

    def _pull(self, key: str, ref: ImageRef, size: int | None) -> None:
        assert ref.digest is not None
        digest = ref.digest
        self.root.mkdir(parents=True, exist_ok=True)
        if size is not None:
            free = shutil.disk_usage(self.root).free
            if free < size * SPACE_FACTOR:
                raise OSError(errno.ENOSPC, f"needs about {size * SPACE_FACTOR >> 20} MB, {free >> 20} MB free")
        with self._exclusive(digest):
            if self.ready(digest):  # another thread or process pulled it while we waited
                return
            blobs, layout = self.root / "blobs", self.root / "layouts" / _hex(digest)
            layout.parent.mkdir(parents=True, exist_ok=True)
            self._copy(key, ref, layout, blobs, size)
            self._unpack(key, ref, layout, blobs)

    def _copy(self, key: str, ref: ImageRef, layout: Path, blobs: Path, size: int | None) -> None:
        cmd = registry.copy_command(ref, self.policy, layout, blobs)
        started, last, before = time.monotonic(), -1, _bytes_in(blobs, layout)
        with subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as proc:
            while proc.poll() is None:
                if time.monotonic() - started > PULL_TIMEOUT_S:
                    proc.kill()
                    raise registry.RegistryError(f"the pull took longer than {PULL_TIMEOUT_S:.0f} s")
                if size:
                    pct = min(99, int(100 * (_bytes_in(blobs, layout) - before) / size))
                    if pct // 10 != last // 10:  # wake the controller every 10 %, not on every poll
                        last = pct
                        self._set(key, ImageStatus(Phase.PULLING, f"pulling image {ref} … {pct} %", ref.digest,
                                                                   percent=pct))
                time.sleep(0.25)
            stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.returncode != 0:
            shutil.rmtree(layout, ignore_errors=True)
            if "no space left on device" in stderr:
                raise OSError(errno.ENOSPC, "no space left on device")
            raise registry.RegistryError(registry.answer(stderr))
        self.pulls += 1

    def _unpack(self, key: str, ref: ImageRef, layout: Path, blobs: Path) -> None:
        assert ref.digest is not None
        layers = [blobs / "sha256" / _hex(d) for d in _layers(layout, blobs)]
        total = sum(p.stat().st_size for p in layers) or 1
        staging = self.root / "rootfs" / f".{_hex(ref.digest)}.{os.getpid()}.{threading.get_ident()}"
        for stale in staging.parent.glob(f".{_hex(ref.digest)}.*") if staging.parent.is_dir() else []:
            shutil.rmtree(stale, ignore_errors=True)  # left by a crash; we hold this digest's node-wide lock
        staging.mkdir(parents=True, mode=0o755)
        status = ImageStatus(Phase.UNPACKING, f"unpacking image {ref} … 0 %", ref.digest, percent=0)
        self._set(key, status)
        try:
            unpack(staging, layers, lambda done: self._set(
                key, replace(status, message=f"unpacking image {ref} … {100 * done // total} %",
                                percent=100 * done // total)))
            (layout / ENV_FILE).write_text(json.dumps(image_env(layout, blobs)))  # before the rootfs is there
            os.chmod(staging, 0o755)  # noqa: S103 - an image is readable by every job (bound read-only)
            os.rename(staging, self.rootfs(ref.digest))  # atomic: a rootfs is complete or absent
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise


def _bytes_in(*dirs: Path) -> int:
    total = 0
    for d in dirs:
        with contextlib.suppress(OSError), os.scandir(d / "sha256" if (d / "sha256").is_dir() else d) as it:
            for entry in it:
                with contextlib.suppress(OSError):
                    if entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
    return total


def _manifest(layout: Path, blobs: Path) -> dict[str, Any]:
    index = json.loads((layout / "index.json").read_text())
    return dict(json.loads((blobs / "sha256" / _hex(index["manifests"][0]["digest"])).read_text()))


def image_env(layout: Path, blobs: Path) -> dict[str, str]:
    """The image's own environment (its config's ``Env``: a CUDA image's PATH and LD_LIBRARY_PATH, say)."""
    config = json.loads((blobs / "sha256" / _hex(_manifest(layout, blobs)["config"]["digest"])).read_text())
    pairs = (item.partition("=") for item in (config.get("config") or {}).get("Env") or [] if isinstance(item, str))
    return {k: v for k, sep, v in pairs if sep and k and "\x00" not in v}


def _layers(layout: Path, blobs: Path) -> list[str]:
    """The layer digests, bottom first, of the image skopeo wrote into ``layout``."""
    manifest = _manifest(layout, blobs)
    bad = [la["mediaType"] for la in manifest["layers"] if not la["mediaType"].endswith(("tar", "tar+gzip", "gzip"))]
    if bad:
        raise registry.RegistryError(f"layers of type {bad[0]} are not supported (gzip or plain tar only)")
    return [la["digest"] for la in manifest["layers"]]
