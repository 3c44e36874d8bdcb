"""Rules for the names people type: organization, project, flavor, node and site names.

Names end up in URLs, file paths (``var/jobs``), Slurm job names and shell
commands, so they are restricted to a small safe alphabet instead of escaped later.
"""

from __future__ import annotations

import re

from aicc.core.errors import InvalidInput

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
SLUG_PATTERN = SLUG_RE.pattern
USERNAME_RE = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
USERNAME_PATTERN = USERNAME_RE.pattern
ENV_VAR_RE = re.compile(r"^[A-Z_][A-Z0-9_]{0,63}$")


def check_slug(value: str, what: str) -> str:
    if not SLUG_RE.match(value):
        raise InvalidInput(
            f"{what} {value!r} must be 1-63 lowercase letters, digits or '-', not starting or ending with '-'"
        )
    return value
