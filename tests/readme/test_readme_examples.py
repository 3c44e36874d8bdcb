"""The README works as typed: its shell examples run, in order and verbatim, against a center started as
`make run` starts it, and print what the README shows.

The conventions (also stated in the README's "About the examples"):

- every ```` ```sh ```` block is run, except one right after a ``<!-- not run: why -->`` comment;
- a line is one command (a trailing ``\\`` continues it); all commands run in one ``bash`` session, so
  ``export`` and ``cd`` carry on, from a scratch directory in which ``src`` and ``examples`` are the
  checkout's;
- ``<alice's token>`` (any demo user) stands for the token `make run` printed for that user, ``<password>`` for
  the demo password and ``<that token>`` for the token printed by the command before it;
- a ``# → TEXT`` line under a command shows (part of) what it prints: its output must contain TEXT; a command
  whose shown output starts with ``aicc: error`` must fail, every other command must succeed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.cli.conftest import free_port
from tests.live_server import aicc_server

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
BIN = Path(sys.executable).parent
MARK = "@@readme-example@@"
TOKEN_RE = re.compile(r"\b[A-Za-z0-9_-]{40,}\b")
SHOWN = "# → "
PER_COMMAND_S = 180


@dataclass
class Example:
    line: int
    command: str
    shown: list[str] = field(default_factory=list)

    @property
    def must_fail(self) -> bool:
        return bool(self.shown) and self.shown[0].startswith("aicc: error")


def examples(text: str) -> list[Example]:
    """Every command of every run ```sh block, with the output lines the README shows under it."""
    found: list[Example] = []
    lines = text.splitlines()
    i, skip_next = 0, False
    while i < len(lines):
        line = lines[i]
        if line.strip().startswith("<!-- not run"):
            skip_next = True
        elif line.strip() == "```sh":
            block_start = i
            i += 1
            body: list[tuple[int, str]] = []
            while lines[i].strip() != "```":
                body.append((i + 1, lines[i]))
                i += 1
            if not skip_next:
                found += _commands(body)
            skip_next = False
            del block_start
        elif line.strip():
            skip_next = skip_next and line.strip().startswith("<!--")
        i += 1
    return found


def _commands(body: list[tuple[int, str]]) -> list[Example]:
    out: list[Example] = []
    pending: Example | None = None
    heredoc: str | None = None
    for number, raw in body:
        stripped = raw.strip()
        if heredoc is not None:
            out[-1].command += "\n" + raw
            if stripped == heredoc:
                heredoc = None
            continue
        if stripped.startswith(SHOWN):
            assert out, f"README.md:{number}: shown output before any command"
            out[-1].shown.append(stripped[len(SHOWN):].strip())
            continue
        if pending is not None:
            pending.command += "\n" + raw
            if not raw.rstrip().endswith("\\"):
                out.append(pending)
                pending = None
            continue
        if not stripped or stripped.startswith("#"):
            continue
        ex = Example(number, raw)
        if raw.rstrip().endswith("\\"):
            pending = ex
        else:
            out.append(ex)
            m = re.search(r"<<-?\s*'?(\w+)'?", raw)
            heredoc = m.group(1) if m else None
    assert pending is None and heredoc is None, "a README example ends inside a continuation or here-document"
    return out


def test_examples_are_found_with_their_shown_output() -> None:
    """The parser itself: continuations join, shown output attaches to its command, `not run` blocks drop."""
    text = "\n".join([
        "```sh", "make run", "```", "<!-- not run: starts the server -->", "```sh", "make run", "```",
        "```sh", "# a comment", "aicc submit \\", "   -- true   # note", "# → Submitted job 1",
        "aicc submit --gpus 64 -- true", "# → aicc: error 422: never", "```"])
    found = examples(text)
    assert [e.command for e in found] == ["make run", "aicc submit \\\n   -- true   # note",
                                         "aicc submit --gpus 64 -- true"]
    assert found[1].shown == ["Submitted job 1"] and not found[1].must_fail and found[2].must_fail


@dataclass
class Center:
    env: dict[str, str]
    tokens: dict[str, str]
    password: str
    cwd: Path


@pytest.fixture(scope="module")
def center(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Center]:
    """`make run`'s three steps (db upgrade, demo --if-empty, server) in a scratch home and config dir."""
    home = tmp_path_factory.mktemp("readme")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICC_")}
    env.update(AICC_HOME=str(home / "var"), AICC_CONFIG_DIR=str(home / "config"),
               PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", HOME=str(home))
    aicc = str(BIN / "aicc")
    subprocess.run([aicc, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
    demo = subprocess.run([aicc, "demo", "--if-empty", "--url", url], env=env, check=True, capture_output=True,
                          text=True, timeout=120).stdout
    lines = demo.splitlines()
    tokens = {"admin": lines[lines.index(next(x for x in lines if x.startswith("admin API token"))) + 1]}
    tokens.update({ln.split()[2].rstrip(":"): ln.split()[-1] for ln in lines if ln.startswith("token for ")})
    password = next(ln for ln in lines if "with password" in ln).split()[-1]
    cwd = home / "work"
    cwd.mkdir()
    for name in ("src", "examples"):
        (cwd / name).symlink_to(ROOT / name)
    with aicc_server(aicc, env, url, port, home / "server.log"):
        yield Center(env, tokens, password, cwd)


def _substitute(command: str, center: Center, last_token: str | None) -> str:
    def one(m: re.Match[str]) -> str:
        what = m.group(1)
        if what == "that token":
            assert last_token, f"{m.group(0)}: no token printed before"
            return last_token
        if what == "password":
            return center.password
        user = what.removesuffix("'s token")
        assert user in center.tokens, f"{m.group(0)}: no such demo token"
        return center.tokens[user]
    return re.sub(r"<(that token|password|[a-z]+'s token)>", one, command)


def test_every_readme_example_runs_as_typed(center: Center) -> None:
    """One bash session runs them all; each command's output and exit status are compared with the README."""
    found = examples(README.read_text(encoding="utf-8"))
    assert len(found) > 40, "the README's examples were not found"
    session = subprocess.Popen(["bash", "--noprofile", "--norc"], cwd=center.cwd, env=center.env, text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert session.stdin is not None and session.stdout is not None
    failures: list[str] = []
    took: list[tuple[float, int]] = []
    last_token: str | None = None
    try:
        for ex in found:
            command = _substitute(ex.command, center, last_token)
            session.stdin.write(f"{command}\n__rc=$?; echo; echo \"{MARK} $__rc\"\n")
            session.stdin.flush()
            output: list[str] = []
            began = time.monotonic()
            # a bounded time per command: a hanging one ends the session (and the test) instead of the CI job
            watchdog = threading.Timer(PER_COMMAND_S, session.kill)
            watchdog.start()
            try:
                while True:
                    line = session.stdout.readline()
                    if not line:
                        raise AssertionError(f"README.md:{ex.line}: the shell ended (or the command ran over "
                                             f"{PER_COMMAND_S} s)\n" + "".join(output))
                    if line.startswith(MARK):
                        rc = int(line.split()[-1])
                        break
                    output.append(line)
            finally:
                watchdog.cancel()
            took.append((time.monotonic() - began, ex.line))
            text = "".join(output)
            tokens = TOKEN_RE.findall(text)
            last_token = tokens[-1] if tokens else last_token
            where = f"README.md:{ex.line}: {ex.command.splitlines()[0]}"
            if ex.must_fail and rc == 0:
                failures.append(f"{where}\n  should have failed, printed:\n{text}")
            elif not ex.must_fail and rc != 0:
                failures.append(f"{where}\n  failed ({rc}):\n{text}")
            for shown in ex.shown:
                if shown not in text:
                    failures.append(f"{where}\n  should print {shown!r}, printed:\n{text}")
    finally:
        session.stdin.close()
        try:
            session.wait(30)
        except subprocess.TimeoutExpired:
            session.kill()
    print("slowest examples:", ", ".join(f"README.md:{n} {t:.1f} s" for t, n in sorted(took)[::-1][:8]))
    assert not failures, "\n\n".join(failures)


def test_placeholders_are_only_the_documented_ones() -> None:
    """A new `<placeholder>` in an example would be typed literally: only the documented ones may appear."""
    for ex in examples(README.read_text(encoding="utf-8")):
        for m in re.finditer(r"(?<!<)<([A-Za-z][^<>\n]*)>", ex.command):
            assert m.group(1) in ("that token", "password") or re.fullmatch(r"[a-z]+'s token", m.group(1)), \
                f"README.md:{ex.line}: {m.group(0)} is not a documented placeholder"
