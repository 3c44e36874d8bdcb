"""``#SBATCH`` lines of a submitted script, read as ``sbatch`` reads them.

A Slurm user's script carries its own size (``#SBATCH --gres=gpu:2 -t 4:00:00 -A proj``). ``aicc submit
script.sh`` honours the options AICC knows, with the same precedence as ``sbatch``: a flag on the command line
wins over the script. Options AICC does not know are named in a warning, never silently dropped, so nobody
waits hours for a job that runs with defaults they did not ask for. Directives end at the first line that is
not a comment, as in Slurm.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

# sbatch's names (long and short) -> the option of `aicc submit` they set
_NAMES = {
    "account": "project", "A": "project",
    "partition": "flavor", "p": "flavor",
    "job-name": "name", "J": "name",
    "time": "time", "t": "time",
    "cpus-per-task": "cpus", "c": "cpus",
    "mem": "mem",
    "array": "array", "a": "array",
    "dependency": "dependency", "d": "dependency",
    "gpus": "gpus", "G": "gpus",
    "gres": "gres",
    "priority": "priority",
    "output": "output", "o": "output",
    "error": "error", "e": "error",
    "ntasks-per-node": "tasks_per_node",
    "mail-type": "notify",
}
_TAKES_NO_VALUE = frozenset({"requeue", "no-requeue", "exclusive", "parsable"})
IGNORED_SILENTLY = frozenset({"parsable"})  # shapes sbatch's own output only


@dataclass
class Directives:
    options: dict[str, str] = field(default_factory=dict)
    """`aicc submit` option -> value, from the script."""
    unknown: list[str] = field(default_factory=list)
    """As written, for the warning."""


def read(script: str) -> Directives:
    out = Directives()
    for line in script.splitlines()[1:] if script.startswith("#!") else script.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("#"):
            break  # directives end at the first command
        if not stripped.startswith("#SBATCH"):
            continue
        try:
            words = shlex.split(stripped[len("#SBATCH"):], comments=True)
        except ValueError:
            out.unknown.append(stripped)
            continue
        _options(words, out)
    return out


def _options(words: list[str], out: Directives) -> None:
    i = 0
    while i < len(words):
        word = words[i]
        value: str | None = None
        if word.startswith("--"):
            name, eq, value_ = word[2:].partition("=")
            value = value_ if eq else None
        elif word.startswith("-") and len(word) >= 2:
            name, value = word[1], word[2:] or None
        else:
            out.unknown.append(word)
            i += 1
            continue
        if value is None and name not in _TAKES_NO_VALUE and i + 1 < len(words):
            i += 1
            value = words[i]
        i += 1
        target = _NAMES.get(name)
        if target is None:
            if name not in IGNORED_SILENTLY:
                out.unknown.append(word if value is None or "=" in word else f"{word} {value}")
            continue
        out.options.setdefault(target, value or "")


def _gres(text: str) -> tuple[str | None, int]:
    """``gpu``, ``gpu:2``, ``gpu:h100`` or ``gpu:h100:2`` -> (type, count)."""
    parts = text.strip().split(":")
    ok = parts[0] == "gpu" and len(parts) <= 3 and (len(parts) < 3 or parts[2].isdigit())
    if not ok or not all(parts):
        raise ValueError(f"--gres {text!r}: AICC reads gpu:N or gpu:TYPE:N")
    if len(parts) == 1:
        return None, 1
    if len(parts) == 2:
        return (None, int(parts[1])) if parts[1].isdigit() else (parts[1].lower(), 1)
    return parts[1].lower(), int(parts[2])


def gres_gpus(text: str) -> int:
    """``gpu:2`` or ``gpu:h100:2`` -> 2 (one GRES per job, as AICC counts accelerators)."""
    return _gres(text)[1]


def gres_type(text: str) -> str | None:
    """``gpu:h100:2`` -> ``h100`` (a flavor); ``gpu:2`` -> None."""
    return _gres(text)[0]


def dependency(text: str) -> list[int]:
    """``afterok:12:13,afterok:14`` -> [12, 13, 14]. AICC's dependencies are afterok; any other kind is
    refused by name rather than read as afterok."""
    ids: list[int] = []
    for part in text.replace("?", ",").split(","):
        if not part.strip():
            continue
        kind, _, rest = part.strip().partition(":")
        if kind != "afterok":
            raise ValueError(f"--dependency {part.strip()!r}: AICC runs afterok dependencies only "
                             "(a job starts after the named jobs succeeded)")
        for raw in rest.split(":"):
            job = raw.split("_")[0].split("+")[0]
            if not job.isdigit():
                raise ValueError(f"--dependency {part.strip()!r}: {raw!r} is not a job id")
            ids.append(int(job))
    if not ids:
        raise ValueError(f"--dependency {text!r}: name the jobs, e.g. afterok:12:13")
    return ids


_MAIL_TYPES = {"end": ("end",), "fail": ("fail",), "all": ("end", "fail"), "none": (), "time_limit": ("fail",)}


def notify_kinds(text: str) -> list[str]:
    """``--notify end,fail`` or sbatch's ``--mail-type=END,FAIL`` / ``ALL`` / ``NONE`` -> AICC's kinds. BEGIN
    and the others are refused by name: AICC tells when a job ends or fails."""
    out: list[str] = []
    for word in (w.strip().lower() for w in text.split(",") if w.strip()):
        if word not in _MAIL_TYPES:
            raise ValueError(f"--notify {word!r}: AICC tells when a job ends (end), fails (fail) or both (all)")
        out += [k for k in _MAIL_TYPES[word] if k not in out]
    return out
