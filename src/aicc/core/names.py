"""Rules for the names people type: organization, project, flavor, node and site names.

Names end up in URLs, file paths (``var/jobs``), Slurm job names and shell
commands, so they are restricted to a small safe alphabet instead of escaped later.
"""

from __future__ import annotations

import re

from aicc.core.errors import InvalidInput

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
SLUG_PATTERN = SLUG_RE.pattern
FLAVOR_RE = re.compile(r"^[a-z0-9](?:[a-z0-9.-]{0,61}[a-z0-9])?$")
"""A flavor's name: a slug, with dots for the slices of a device (NVIDIA MIG profiles: ``h100.1g.10gb``)."""
FLAVOR_PATTERN = FLAVOR_RE.pattern
DEVICE_ID_RE = re.compile(r"^(?:MIG-[A-Za-z0-9/-]{1,100}|GPU-[A-Za-z0-9-]{1,100}|[0-9]{1,3}(?::[0-9]{1,3})?)$")
"""How a run is handed one device: ``MIG-<uuid>`` (a MIG slice), ``GPU-<uuid>``, an index, or ``gpu:slice``."""
USERNAME_RE = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
USERNAME_PATTERN = USERNAME_RE.pattern
ENV_VAR_RE = re.compile(r"^[A-Z_][A-Z0-9_]{0,63}$")

JOB_NAME_UNSAFE = "/\\`$;&|<>\"'*?"
"""A job's name is a person's words (학습-1차, données): any letter, digit, space or mark, except control
characters and the few characters that break a path or a shell command line when pasted unquoted."""
JOB_NAME_PATTERN = r"^[^\x00-\x1f\x7f-\x9f" + re.escape(JOB_NAME_UNSAFE) + r"]+$"
_JOB_NAME_RE = re.compile(JOB_NAME_PATTERN)


def check_job_name(value: str) -> str:
    """The name stripped of surrounding spaces, or InvalidInput saying which characters are refused."""
    name = value.strip()
    if not 1 <= len(name) <= 128 or name in (".", "..") or not _JOB_NAME_RE.match(name):
        raise InvalidInput(f"job name {value!r}: 1-128 characters, no control characters and none of "
                           f"{' '.join(JOB_NAME_UNSAFE)} (letters of any language are fine)")
    return name


def check_slug(value: str, what: str) -> str:
    if not SLUG_RE.match(value):
        raise InvalidInput(
            f"{what} {value!r} must be 1-63 lowercase letters, digits or '-', not starting or ending with '-'"
        )
    return value
