"""Image references: what is accepted, how it is read, and every way a bad one is refused with a reason."""

from __future__ import annotations

import pytest

from aicc.core.errors import InvalidInput
from aicc.core.images import ImageRef, RegistryPolicy, parse_image_ref

D = "sha256:" + "ab" * 32
POLICY = RegistryPolicy.from_env("registry.example.org,127.0.0.1:5000", "docker.io=127.0.0.1:5000")

GOOD = [
    ("python:3.13", ImageRef("docker.io", "library/python", "3.13")),
    ("pytorch/pytorch:2.4.0-cuda12.4", ImageRef("docker.io", "pytorch/pytorch", "2.4.0-cuda12.4")),
    (f"python@{D}", ImageRef("docker.io", "library/python", None, D)),
    (f"python:3.13@{D}", ImageRef("docker.io", "library/python", "3.13", D)),
    ("127.0.0.1:5000/aicc-test/python:3.13", ImageRef("127.0.0.1:5000", "aicc-test/python", "3.13")),
    ("Registry.Example.org/a/b/c:v1", ImageRef("registry.example.org", "a/b/c", "v1")),
    ("registry.example.org/x__y.z-w:T_1.0-rc", ImageRef("registry.example.org", "x__y.z-w", "T_1.0-rc")),
]


@pytest.mark.parametrize(("text", "expected"), GOOD, ids=[g[0][:40] for g in GOOD])
def test_a_valid_reference_is_read_into_registry_repository_tag_and_digest(text: str, expected: ImageRef) -> None:
    assert parse_image_ref(text, POLICY) == expected


BAD = [
    ("", "empty"),
    ("python", "no tag or digest"),
    ("registry.example.org/team/app", "no tag or digest"),
    ("quay.io/team/app:1", "not allowed"),
    ("evil.example.com:5000/x:1", "not allowed"),
    ("../etc/passwd:1", "'..'"),
    ("registry.example.org/a/../b:1", "'..'"),
    ("/abs/path:1", "'..' and absolute"),
    ("python@sha256:abc", "not an image digest"),
    ("python@sha512:" + "a" * 128, "not an image digest"),
    ("python@sha256:" + "AB" * 32, "not an image digest"),
    ("python:" + "t" * 129, "not a valid tag"),
    ("python:-bad", "not a valid tag"),
    ("Python:1", "not a valid repository name part"),
    ("registry.example.org/a//b:1", "not a valid repository name part"),
    ("registry.example.org/" + "a" * 300 + ":1", "longer than 255"),
    ("x" * 600, "at most 512"),
    ("python:3 13", "printable ASCII"),
    ("pyth\u00f6n:1", "printable ASCII"),
]


@pytest.mark.parametrize(("text", "why"), BAD, ids=[b[0][:30] or "empty" for b in BAD])
def test_a_bad_reference_is_refused_saying_why(text: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=None) as err:
        parse_image_ref(text, POLICY)
    assert why in err.value.detail


def test_a_center_without_registries_refuses_every_image() -> None:
    with pytest.raises(InvalidInput, match="AICC_REGISTRIES is empty"):
        parse_image_ref("python:3.13", RegistryPolicy.from_env(""))


def test_a_mirrored_registry_is_pulled_from_its_mirror_by_digest() -> None:
    ref = parse_image_ref("python:3.13", POLICY).pinned(D)
    assert ref.transport(POLICY) == f"docker://127.0.0.1:5000/library/python@{D}"
    assert str(ref) == f"docker.io/library/python:3.13@{D}"
    assert parse_image_ref("registry.example.org/a:1", POLICY).transport(POLICY) == \
        "docker://registry.example.org/a:1"


@pytest.mark.parametrize("bad", ["docker.io", "a=b=c", "bad host=x", "x=a b"])
def test_a_malformed_policy_is_a_start_up_error(bad: str) -> None:
    with pytest.raises(ValueError, match="not"):
        RegistryPolicy.from_env("ok.example", bad)
