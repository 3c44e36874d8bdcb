"""OCI image references: what a user may name with ``--image``, and where the bits come from.

A reference is ``[registry[:port]/]repository(:tag | @sha256:<64 hex> | :tag@sha256:<64 hex>)``, as Docker's
distribution library reads it (its grammar, not its code). Differences on purpose:

- a tag or a digest is **required**: an implicit ``latest`` makes two runs of one job get different bits and
  hides the user's intent, so ``python`` alone is bad input, not "python:latest";
- only ``sha256`` digests: the only algorithm registries and skopeo use in practice; anything else is bad input;
- the registry must be one the center allows (``AICC_REGISTRIES``) or one it mirrors
  (``AICC_REGISTRY_MIRRORS=docker.io=127.0.0.1:5000``): a job never makes the node fetch from anywhere else.

Pure: no I/O. The adapter that talks to registries is ``aicc.images``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from aicc.core.errors import InvalidInput

DOCKER_HUB = "docker.io"
MAX_NAME = 255  # registry + repository, as the distribution library limits it
MAX_REFERENCE = 512
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_HOST = re.compile(r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
                   r"(?::[0-9]{1,5})?")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")


@dataclass(frozen=True, slots=True)
class RegistryPolicy:
    """Which registries a center pulls from. ``mirrors`` maps a registry named in references to the host the
    node really pulls from; ``insecure`` hosts are spoken to over plain HTTP (a loopback test registry)."""

    allowed: frozenset[str] = frozenset()
    mirrors: Mapping[str, str] = field(default_factory=dict)
    insecure: frozenset[str] = frozenset()

    @classmethod
    def from_env(cls, registries: str, mirrors: str = "", insecure: str = "") -> RegistryPolicy:
        """From the comma lists of ``AICC_REGISTRIES``, ``AICC_REGISTRY_MIRRORS`` (``name=host``) and
        ``AICC_INSECURE_REGISTRIES``. A malformed entry is a start-up error, not a silently open policy."""
        allowed = frozenset(_host(h) for h in registries.split(",") if h.strip())
        mirror_map: dict[str, str] = {}
        for item in (m for m in mirrors.split(",") if m.strip()):
            name, sep, target = item.partition("=")
            if not sep:
                raise ValueError(f"AICC_REGISTRY_MIRRORS entry {item!r} is not name=host")
            mirror_map[_host(name)] = _host(target)
        return cls(allowed, mirror_map, frozenset(_host(h) for h in insecure.split(",") if h.strip()))

    @property
    def enabled(self) -> bool:
        return bool(self.allowed or self.mirrors)

    def permits(self, registry: str) -> bool:
        return registry in self.allowed or registry in self.mirrors

    def source(self, registry: str) -> str:
        """The host a node pulls a reference's registry from."""
        return self.mirrors.get(registry, registry)


def _host(text: str) -> str:
    host = text.strip().lower()
    if not _HOST.fullmatch(host):
        raise ValueError(f"{text!r} is not a registry host[:port]")
    return host


@dataclass(frozen=True, slots=True)
class ImageRef:
    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        return self.registry + "/" + self.repository + (f":{self.tag}" if self.tag else "") + (
            f"@{self.digest}" if self.digest else "")

    def pinned(self, digest: str) -> ImageRef:
        """The same image named by the digest it resolved to (what a rerun pulls)."""
        return ImageRef(self.registry, self.repository, self.tag, check_digest(digest))

    def transport(self, policy: RegistryPolicy) -> str:
        """skopeo's ``docker://`` name, through the mirror when there is one; by digest when known."""
        base = f"docker://{policy.source(self.registry)}/{self.repository}"
        return base + (f"@{self.digest}" if self.digest else f":{self.tag}")


def check_digest(text: str) -> str:
    if not _DIGEST.fullmatch(text):
        raise InvalidInput(f"{text!r} is not an image digest (sha256: and 64 lowercase hex digits)")
    return text


def parse_image_ref(text: str, policy: RegistryPolicy) -> ImageRef:
    """Parse and check a user's reference; raise :class:`InvalidInput` saying what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("an image reference is empty")
    ref = text.strip()
    if len(ref) > MAX_REFERENCE:
        raise InvalidInput(f"an image reference is at most {MAX_REFERENCE} characters")
    if any(c.isspace() or ord(c) < 0x21 or ord(c) > 0x7E for c in ref):
        raise InvalidInput(f"image {ref!r}: only printable ASCII without spaces")
    if ".." in ref.split("@")[0].split("/") or "/../" in f"/{ref}/" or ref.startswith("/"):
        raise InvalidInput(f"image {ref!r}: '..' and absolute paths are not image names")
    name, at, digest = ref.partition("@")
    if at:
        check_digest(digest)
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:  # a colon in the last path part is a tag; before it, it would be a registry's port
        name, _, tag = name.rpartition(":")
        if not _TAG.fullmatch(tag):
            raise InvalidInput(f"image {ref!r}: tag {tag!r} is not a valid tag ([A-Za-z0-9_.-], at most 128)")
    if tag is None and not at:
        raise InvalidInput(f"image {ref!r} names no tag or digest: add one (e.g. {name}:1.0 or @sha256:…)")
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        registry, path = parts[0].lower(), parts[1:]
        if not _HOST.fullmatch(registry):
            raise InvalidInput(f"image {ref!r}: {parts[0]!r} is not a registry host[:port]")
    else:
        registry, path = DOCKER_HUB, parts
        if len(path) == 1:
            path = ["library", *path]
    for part in path:
        if not _COMPONENT.fullmatch(part):
            raise InvalidInput(f"image {ref!r}: {part!r} is not a valid repository name part "
                               "(lowercase letters, digits, separators . _ __ -)")
    repository = "/".join(path)
    if len(registry) + 1 + len(repository) > MAX_NAME:
        raise InvalidInput(f"image {ref!r}: the name is longer than {MAX_NAME} characters")
    if not policy.enabled:
        raise InvalidInput("this center runs no images (no registry is allowed: AICC_REGISTRIES is empty)")
    if not policy.permits(registry):
        allowed = ", ".join(sorted(policy.allowed | set(policy.mirrors)))
        raise InvalidInput(f"image {ref!r}: registry {registry} is not allowed here (allowed: {allowed})")
    return ImageRef(registry, repository, tag, digest or None)
