"""`aicc ws`: a project's workspace from the command line: info, ls, put, get, rm, mv.

``put`` and ``get`` stream (memory stays flat for any size), verify SHA-256 end to end, and resume: ``put``
keeps the upload's id in ``$AICC_CONFIG_DIR/uploads/`` and, after a broken connection or a new run of the same
command, asks the server where it stands and sends the rest; ``get`` writes ``<file>.part`` and continues it
with a ``Range`` request.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from aicc.cli.client import Client, CliError, config_dir
from aicc.cli.lookup import project_by
from aicc.cli.output import done, emit

app = typer.Typer(help="Your project's workspace (mounted at /workspace in its jobs): ls, put, get, rm, mv.",
                  no_args_is_help=True)
Project = Annotated[str, typer.Option("--project", "-p", envvar="AICC_PROJECT", help="Project name.")]
PART = 256 << 20
"""Bytes per PUT. Each part ends with the server's fsync and a round trip, so fewer, larger parts send faster;
resuming loses nothing either way (the server keeps what arrived of a broken part)."""
READ = 4 << 20
RETRIES = 5


def _base(c: Client, project: str) -> str:
    return f"/projects/{project_by(c, project)['id']}/workspace"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while data := f.read(READ):
            digest.update(data)
    return digest.hexdigest()


class Progress:
    """One line on stderr, rewritten in place (only on a terminal: scripts get quiet output)."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label, self.t0 = total, label, time.monotonic()
        self.on = sys.stderr.isatty()

    def show(self, done: int) -> None:
        if self.on:
            rate = done / max(time.monotonic() - self.t0, 1e-6) / (1 << 20)
            pct = 100 * done / self.total if self.total else 100
            sys.stderr.write(f"\r{self.label}: {pct:5.1f}% {done >> 20}/{self.total >> 20} MiB {rate:.0f} MiB/s")
            sys.stderr.flush()

    def end(self) -> None:
        if self.on:
            sys.stderr.write("\n")


def _state_path(c: Client, base: str, remote: str, local: Path, st: os.stat_result) -> Path:
    key = json.dumps([c.url, base, remote, str(local.absolute()), st.st_size, st.st_mtime_ns])
    return config_dir() / "uploads" / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".json")


def _chunks(path: Path, start: int, end: int, progress: Progress, digest: Any) -> Iterator[bytes]:
    """The part's bytes, hashed on a second thread while the previous chunk is on the wire (hashlib releases
    the GIL): hashing and sending overlap instead of taking turns. Chunks are hashed in order, each only after
    the one before it is done."""
    from concurrent.futures import Future, ThreadPoolExecutor

    with path.open("rb", buffering=0) as f, ThreadPoolExecutor(1) as hasher:
        f.seek(start)
        pos = start
        hashed: Future[None] | None = None
        while pos < end:
            data = f.read(min(READ, end - pos))
            if not data:
                break
            if hashed is not None:
                hashed.result()
            hashed = hasher.submit(digest.update, data)
            pos += len(data)
            progress.show(pos)
            yield data
        if hashed is not None:
            hashed.result()


def _check(resp: Any) -> Any:
    if resp.status_code >= 400:
        from aicc.cli.client import _explain

        _explain(resp)
    return resp.json() if resp.content else None


@app.command("info")
def info(project: Project, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Quota, usage, and whether the file system enforces the quota."""
    c = Client()
    emit(c.get(_base(c, project)), as_json=as_json)


@app.command("ls")
def ls(project: Project, path: Annotated[str, typer.Argument()] = "",
       as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List a directory of the workspace (the top by default)."""
    c = Client()
    listing = c.request("GET", _base(c, project) + "/list", params={"path": path.strip("/")})
    emit(listing["entries"], as_json=as_json, columns=("path", "kind", "size", "mtime"))
    if listing["hidden"] and not as_json:
        print(f"({listing['hidden']} entries with names AICC does not handle are not shown)", file=sys.stderr)


@app.command("put")
def put(project: Project, local: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
        remote: Annotated[str, typer.Argument(help="Path in the workspace; ending in '/': a directory.")] = "",
        overwrite: Annotated[bool, typer.Option(help="Replace an existing file.")] = False) -> None:
    """Upload a file of any size: resumable (run it again after a failure); the SHA-256 computed while sending
    is checked by the server against what it received before the file is kept."""
    c = Client(timeout=120.0)
    base = _base(c, project)
    remote = (remote + local.name if not remote or remote.endswith("/") else remote).lstrip("/")
    st = local.stat()
    state_file = _state_path(c, base, remote, local, st)
    upload: dict[str, Any] | None = None
    if state_file.exists():
        resp = c.http.get(f"/api/v1{base}/uploads/{json.loads(state_file.read_text())['id']}")
        upload = resp.json() if resp.status_code == 200 else None
    if upload is None:
        upload = c.post(f"{base}/uploads", {"path": remote, "size": st.st_size, "overwrite": overwrite})
        state_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        state_file.write_text(json.dumps({"id": upload["id"]}))
    progress = Progress(st.st_size, f"put {remote}")
    offset, tries = int(upload["offset"]), 0
    digest = prefix_digest(local, offset)  # one pass over the file: hashed as it is sent
    while offset < st.st_size:
        end = min(offset + PART, st.st_size)
        try:
            resp = c.http.put(f"/api/v1{base}/uploads/{upload['id']}", params={"offset": offset},
                              content=_chunks(local, offset, end, progress, digest),
                              headers={"Content-Length": str(end - offset)})
            offset = int(_check(resp)["offset"])
            tries = 0
        except c._httpx.HTTPError as exc:
            tries += 1
            if tries > RETRIES:
                raise CliError(f"upload interrupted ({exc}); run the same command again to resume") from exc
            time.sleep(min(2 ** tries, 30))
            offset = int(_check(c.http.get(f"/api/v1{base}/uploads/{upload['id']}"))["offset"])
            digest = prefix_digest(local, offset)  # what the server holds, not what was read
    progress.end()
    done = c.post(f"{base}/uploads/{upload['id']}/finish", {"sha256": digest.hexdigest()})
    state_file.unlink(missing_ok=True)
    print(f"{done['path']}  {done['size']} bytes  sha256 {done['sha256']}")


def prefix_digest(path: Path, n: int) -> Any:
    """SHA-256 state over the first ``n`` bytes (what a resumed upload already sent)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        left = n
        while left > 0 and (data := f.read(min(READ, left))):
            digest.update(data)
            left -= len(data)
    return digest


@app.command("outputs")
def outputs(job: Annotated[int, typer.Argument(help="Job id.")], path: Annotated[str, typer.Argument()] = "",
            as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List what an ordinary job wrote in its directory (fetch one with `aicc ws get --job JOB PATH`)."""
    c = Client()
    listing = c.request("GET", f"/jobs/{job}/files", params={"path": path.strip("/")})
    emit(listing["entries"], as_json=as_json, columns=("path", "kind", "size", "mtime"))


@app.command("get")
def get(remote: Annotated[str, typer.Argument()],
        local: Annotated[Path | None, typer.Argument(help="Default: the file's name here.")] = None,
        project: Annotated[str | None, typer.Option("--project", "-p", envvar="AICC_PROJECT")] = None,
        job: Annotated[int | None, typer.Option(help="A job's output instead of a workspace file.")] = None) -> None:
    """Download a file: resumes a partial ``<file>.part`` with a Range request; a workspace file's SHA-256 is
    checked against the server's."""
    c = Client(timeout=120.0)
    if job is not None:
        base = f"/jobs/{job}/files"
    elif project:
        base = _base(c, project)
    else:
        raise CliError("say which workspace (--project or AICC_PROJECT) or which job (--job)")
    remote = remote.strip("/")
    target = local or Path(remote.rsplit("/", 1)[-1])
    part = target.with_name(target.name + ".part")
    if job is None:
        expected = c.request("GET", f"{base}/checksum", params={"path": remote})
    else:
        entry = next((e for e in c.request("GET", base, params={"path": remote.rpartition("/")[0]})["entries"]
                      if e["path"] == remote), None)
        if entry is None:
            raise CliError(f"{remote} is not among job {job}'s files")
        expected = {"size": entry["size"], "sha256": None}
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if 0 < have < expected["size"] else {}
    if have >= expected["size"]:
        have, headers = 0, {}
    progress = Progress(expected["size"], f"get {remote}")
    with c.http.stream("GET", f"/api/v1{base}/content", params={"path": remote}, headers=headers) as resp:
        if resp.status_code >= 400:
            resp.read()
            _check(resp)
        mode = "ab" if resp.status_code == 206 else "wb"
        done = have if resp.status_code == 206 else 0
        with part.open(mode) as f:
            for data in resp.iter_bytes(READ):
                f.write(data)
                done += len(data)
                progress.show(done)
    progress.end()
    got = sha256_of(part)
    if expected["sha256"] is not None and got != expected["sha256"]:
        part.unlink()
        raise CliError(f"checksum mismatch for {remote} (got {got}, expected {expected['sha256']}); removed")
    part.replace(target)
    print(f"{target}  {expected['size']} bytes  sha256 {got}")


@app.command("rm")
def rm(project: Project, path: Annotated[str, typer.Argument()],
       recursive: Annotated[bool, typer.Option("--recursive", "-r")] = False,
       as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Remove a file (or, with -r, a directory and everything in it). Audited."""
    c = Client()
    params = {"path": path.strip("/"), "recursive": str(recursive).lower()}
    c.request("DELETE", _base(c, project) + "/files", params=params)
    done(f"removed {path}", {"removed": path.strip("/")}, as_json=as_json)


@app.command("mv")
def mv(project: Project, src: Annotated[str, typer.Argument()], dst: Annotated[str, typer.Argument()],
       as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Rename within the workspace (the destination must not exist)."""
    c = Client()
    out = c.post(_base(c, project) + "/move", {"src": src.strip("/"), "dst": dst.strip("/")})
    done(f"{src} -> {out['path']}", out, as_json=as_json)
