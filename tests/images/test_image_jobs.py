"""Image jobs against a real registry: the image's own Python runs, pulled by digest, recorded, cached, pinned;
bad references and failing registries give readable answers; hostile images gain nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aicc.core.images import RegistryPolicy, parse_image_ref
from aicc.images import registry as reg
from tests.controller.conftest import Harness
from tests.images.conftest import DOWN, skopeo
from tests.world import World

pytestmark = pytest.mark.registry
H = World.auth
HOST_FILE = Path("/var/tmp/aicc-image-host-file")
ESCAPE_DIR = Path("/var/tmp/aicc-image-escape")


def _log(h: Harness, job_id: int, stream: str = "stdout") -> str:
    r = h.client.get(f"/api/v1/jobs/{job_id}/logs", params={"stream": stream},
                     headers=H(h.world.admin_token))
    return str(r.json()["data"])


def _digest(ref: str, registry: str) -> str:
    policy = RegistryPolicy.from_env(registry, "", registry)
    return reg.resolve(parse_image_ref(ref, policy), policy)[0]


def test_an_image_job_runs_the_images_own_python_pulled_by_digest_and_a_second_job_reuses_the_cache(
        images: Harness, registry: str) -> None:
    w = images.world
    ref = f"{registry}/aicc-test/python:3.13"
    code = ("import sys, os; print('py', sys.version_info[:2], 'uid', os.getuid(), 'cwd', os.getcwd(), "
            "'tag', os.environ.get('IMAGE_TAG'))")
    first = images.submit(w.a.member_token, image=ref, flavors=["cpu"], command=["python3", "-c", code])
    seen: list[str] = []

    def finished() -> bool:
        now = images.job(first)
        seen.append(now["reason"])
        return now["state"] in ("succeeded", "failed")

    images.until(finished, timeout=120)
    job = images.job(first)
    assert any(r.startswith(("resolving image", "pulling image", "unpacking image")) for r in seen), seen
    assert job["state"] == "succeeded", job["reason"] + _log(images, first, "stderr")
    out = _log(images, first)
    assert "py (3, 13)" in out and sys.version_info[:2] != (3, 13)  # the image's Python, not the host's
    import re

    found = re.search(r"uid (\d+) cwd /aicc/job tag python", out)  # the image's own environment (its config's Env)
    assert found and int(found.group(1)) >= 200_000, out  # the project's own uid, never root or the server's
    assert job["image_ref"] == ref and job["image_digest"] == _digest(ref, registry)
    cache = images.controller.images
    assert cache is not None and cache.pulls == 1
    second = images.submit(w.a.member_token, image=ref, flavors=["cpu"], command=["python3", "--version"])
    job2 = images.until_state(second, "succeeded", "failed", timeout=60)
    assert job2["state"] == "succeeded" and job2["image_digest"] == job["image_digest"]
    assert cache.pulls == 1  # the cached root filesystem, no second pull
    assert "Python 3.13" in _log(images, second)


def test_a_requeued_job_runs_the_digest_it_was_admitted_with_even_when_the_tag_moved(
        images_shared: Harness, registry: str) -> None:
    images = images_shared
    w = images.world
    moving = f"{registry}/aicc-test/moving:1"
    skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false",
           f"docker://{registry}/aicc-test/python:3.13", f"docker://{moving}")
    script = ("test -e /usr/local/bin/suid-id && echo attempt $AICC_RUN_ATTEMPT hostile "
              "|| echo attempt $AICC_RUN_ATTEMPT plain; [ $AICC_RUN_ATTEMPT = 0 ] && sleep 60; true")
    job_id = images.submit(w.a.member_token, image=moving, flavors=["cpu"], command=["sh", "-c", script])
    job = images.until_state(job_id, "running", timeout=120)
    pinned = job["image_digest"]
    images.until(lambda: "attempt 0" in _log(images, job_id))
    skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false",  # the tag now names another image
           f"docker://{registry}/aicc-test/hostile:1", f"docker://{moving}")
    run = images.settings.jobs_dir / str(job_id) / "run-0"
    os.kill(json.loads((run / "state.json").read_text())["shepherd_pid"], signal.SIGKILL)  # the run is lost
    job = images.until_state(job_id, "succeeded", "failed", timeout=120)
    assert job["attempt"] == 1 and job["image_digest"] == pinned
    assert "attempt 1 plain" in _log(images, job_id)


BAD = [
    ("quay.io/team/app:1", "not allowed"),
    ("../../etc/passwd:1", "'..'"),
    ("{registry}/aicc-test/python", "no tag or digest"),
    ("{registry}/aicc-test/python@sha256:1234", "not an image digest"),
]


def test_bad_references_are_refused_at_submit_with_problem_json(images: Harness, registry: str) -> None:
    for text, why in BAD:
        r = images.client.post("/api/v1/jobs", headers=H(images.world.a.member_token), json={
            "project": "proj-a", "command": ["true"], "flavors": ["cpu"], "image": text.format(registry=registry)})
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text
        assert why in r.json()["detail"]


def test_an_unknown_tag_a_registry_that_is_down_and_a_deleted_image_fail_the_job_with_the_registrys_answer(
        images: Harness, registry: str) -> None:
    w = images.world
    gone = f"{registry}/aicc-test/deleted:1"
    # another manifest (Docker schema 2) for the same layers: its own digest, deleted below before the start
    skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false", "--format", "v2s2",
           f"docker://{registry}/aicc-test/python:3.13", f"docker://{gone}")
    digest = _digest(gone, registry)
    unknown = images.submit(w.a.member_token, image=f"{registry}/aicc-test/python:nope", flavors=["cpu"])
    down = images.submit(w.a.member_token, image=f"{DOWN}/aicc-test/python:3.13", flavors=["cpu"])
    subprocess.run(["curl", "-fsS", "-X", "DELETE", f"http://{registry}/v2/aicc-test/deleted/manifests/{digest}"],
                   check=True, capture_output=True, timeout=30)
    deleted = images.submit(w.a.member_token, image=f"{registry}/aicc-test/deleted@{digest}", flavors=["cpu"])
    reasons = {}
    for job_id in (unknown, down, deleted):
        job = images.until_state(job_id, "failed", "succeeded", timeout=60)
        assert job["state"] == "failed" and job["started_at"] is None, job
        reasons[job_id] = job["reason"]
    assert "python:nope" in reasons[unknown] and "manifest unknown" in reasons[unknown]
    assert "connection refused" in reasons[down]
    assert "manifest unknown" in reasons[deleted] and job["image_digest"] == digest
    assert images.controller.images is not None and images.controller.images.pulls == 0


def test_a_full_image_cache_fails_the_job_with_a_readable_reason(images: Harness, registry: str) -> None:
    cache = images.settings.images_dir
    cache.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(cache)], check=True, timeout=30)
    try:
        job_id = images.submit(images.world.a.member_token, image=f"{registry}/aicc-test/python:3.13",
                               flavors=["cpu"])
        job = images.until_state(job_id, "failed", "succeeded", timeout=60)
    finally:
        subprocess.run(["umount", "-l", str(cache)], check=False, timeout=30)
    assert job["state"] == "failed" and "image cache is full" in job["reason"], job["reason"]


@pytest.fixture
def host_file() -> Iterator[Path]:
    HOST_FILE.write_text("HOST-SECRET\n")
    yield HOST_FILE
    HOST_FILE.unlink(missing_ok=True)


def test_a_hostile_image_gains_no_privilege_and_reaches_no_host_file(
        images_shared: Harness, registry: str, host_file: Path) -> None:
    images = images_shared
    script = ("/usr/local/bin/suid-id -u; /usr/local/bin/sgid-id -g; echo setuid-files: $(find / -xdev -perm /6000);"
              " ls /opt; cat /hostlink /rellink /escape/pwned 2>&1; echo dir: $(ls /escape); true")
    job_id = images.submit(images.world.a.member_token, image=f"{registry}/aicc-test/hostile:1", flavors=["cpu"],
                           command=["sh", "-c", script])
    job = images.until_state(job_id, "succeeded", "failed", timeout=120)
    assert job["state"] == "succeeded", job["reason"] + _log(images, job_id, "stderr")
    out = _log(images, job_id)
    lines = [line for line in out.splitlines() if not line.startswith("== attempt")]
    assert int(lines[0]) >= 200_000 and lines[1] == lines[0]  # the setuid/setgid copies of id give nothing
    assert "setuid-files: \n" in out or lines[2] == "setuid-files:"  # every setuid bit was dropped at unpack
    assert "mem" not in out and "sda" not in out and "fifo" not in out  # no device node, no FIFO
    assert "HOST-SECRET" not in out and out.count("No such file or directory") == 3
    assert not (ESCAPE_DIR / "pwned").exists() and not Path(f"{ESCAPE_DIR}-dotdot").exists()


def test_a_job_cancelled_while_its_image_is_on_its_way_never_starts(images: Harness, registry: str) -> None:
    w = images.world
    job_id = images.submit(w.a.member_token, image=f"{registry}/aicc-test/python:3.13", flavors=["cpu"])
    images.until(lambda: images.job(job_id)["state"] == "admitted")
    r = images.client.post(f"/api/v1/jobs/{job_id}/cancel", headers=H(w.a.member_token))
    assert r.status_code == 200, r.text
    job = images.until_state(job_id, "cancelled", "running", "succeeded", timeout=60)
    assert job["state"] == "cancelled" and job["started_at"] is None and "cancel requested" in job["reason"]
    assert not (images.settings.jobs_dir / str(job_id) / "run-0").exists()


MEET = """
import os, socket, sys, time
rank, addr, port = int(os.environ["RANK"]), os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
if rank == 0:
    with socket.create_server((addr, port)) as server:
        conn, _ = server.accept()
        got = int(conn.makefile().readline())
else:
    for _ in range(300):
        try:
            conn = socket.create_connection((addr, port))
            break
        except OSError:
            time.sleep(0.05)
    conn.sendall(b"41\\n")
    got = 41
print("rank", rank, "py", sys.version_info[:2], "uid", os.getuid(), "got", got, "cwd", os.getcwd())
"""


def test_the_ranks_of_a_job_in_an_image_meet_each_other_and_stay_isolated(
        images_shared: Harness, registry: str) -> None:
    images = images_shared
    w = images.world
    job_id = images.submit(w.a.member_token, image=f"{registry}/aicc-test/python:3.13", flavors=["cpu"], cpus=2,
                           tasks_per_node=2, command=["python3", "-c", MEET])
    images.until(lambda: images.job(job_id)["state"] in ("succeeded", "failed"), timeout=120)
    job = images.job(job_id)
    assert job["state"] == "succeeded", job["reason"] + _log(images, job_id, "stderr")
    one = images.client.get(f"/api/v1/jobs/{job_id}/logs", params={"rank": 0}, headers=H(w.a.member_token))
    other = images.client.get(f"/api/v1/jobs/{job_id}/logs", params={"rank": 1}, headers=H(w.a.member_token))
    rank0, rank1 = one.json()["data"].split(), other.json()["data"].split()
    assert rank0[:6] == ["rank", "0", "py", "(3,", "13)", "uid"] and rank0[7:9] == ["got", "41"]
    assert rank1[:2] == ["rank", "1"] and rank0[6] == rank1[6] != "0"  # both the project's uid, not root
    assert rank0[-1] == rank1[-1] == "/aicc/job"  # each inside the image, in the job's directory
