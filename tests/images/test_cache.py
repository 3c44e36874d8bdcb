"""The image cache's promises that need no image: it never blocks its caller, and a failure is answered from
memory for a while (a thousand jobs on a dead registry ask it once). Uses the real skopeo against a closed port."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from aicc.core.images import RegistryPolicy, parse_image_ref
from aicc.images.cache import ImageCache, Phase

DOWN = "127.0.0.1:9"


@pytest.mark.registry
def test_a_failed_pull_is_answered_from_memory_without_asking_the_registry_again(tmp_path: Path, registry: str
                                                                                   ) -> None:
    del registry  # not pulled from: asked for, so that this test runs (and needs skopeo) wherever the others do
    policy = RegistryPolicy.from_env(DOWN, "", DOWN)
    woken: list[float] = []
    cache = ImageCache(tmp_path / "images", policy, on_change=lambda: woken.append(time.monotonic()))
    ref = parse_image_ref(f"{DOWN}/team/app:1", policy)
    t0 = time.perf_counter()
    first = cache.request(ref)
    assert time.perf_counter() - t0 < 0.5 and first.phase is Phase.RESOLVING  # the caller never waits
    deadline = time.monotonic() + 60
    while cache.request(ref).phase is not Phase.FAILED:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    failed = cache.request(ref)
    assert "connection refused" in failed.message and failed.message.startswith(f"image {ref}: ")
    assert len(woken) == 1  # the controller was woken once, with the answer
    for _ in range(100):  # a burst of jobs of the same image: the same answer, no new attempt
        assert cache.request(ref) == failed
    time.sleep(0.2)
    assert len(woken) == 1 and cache.pulls == 0
