"""Image jobs end to end: the API, the controller, the real local executor and a **real registry**.

The registry is Debian's docker-registry started by ``scripts/registry-up`` and filled by
``scripts/build-test-images`` (``.ci/run`` does both and exports ``AICC_TEST_REGISTRY``). Without it the
tests that need it are skipped on a workstation and **fail** under CI (``CI`` set): CI must never go green
without having pulled an image.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aicc.api.app import create_app
from aicc.config import Settings
from aicc.controller.loop import Controller
from aicc.executors.local import LocalExecutor
from aicc.store.db import Database
from tests.controller.conftest import Harness
from tests.world import World

REGISTRY = os.environ.get("AICC_TEST_REGISTRY", "")
DOWN = "127.0.0.1:9"  # allowed, but nothing listens there: a registry that is down


@pytest.fixture(scope="session")
def registry() -> str:
    if not REGISTRY:
        if os.environ.get("CI"):
            pytest.fail("AICC_TEST_REGISTRY is not set under CI: .ci/run runs scripts/registry-up and "
                        "scripts/build-test-images")
        pytest.skip("no test registry: export AICC_TEST_REGISTRY=$(scripts/registry-up | tail -1) && "
                    "scripts/build-test-images")
    return REGISTRY


@pytest.fixture
def images(registry: str, db: Database, world: World, settings: Settings) -> Iterator[Harness]:
    """A center that allows the test registry (and a dead one), with its own empty image cache."""
    import dataclasses

    allowed = f"{registry},{DOWN}"
    s = dataclasses.replace(settings, preempt_grace_s=0.5, registries=allowed, insecure_registries=allowed)
    with TestClient(create_app(s, db), raise_server_exceptions=False) as client:
        controller = Controller(s, db, LocalExecutor(s.jobs_dir, grace_s=0.5))
        yield Harness(client, world, s, db, controller)
        controller.executor.close()  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def node_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("node-images")


@pytest.fixture
def images_shared(images: Harness, node_cache: Path) -> Harness:
    """The same, with an image cache shared by the tests of this worker (as by the jobs of one node): the tests
    that do not count pulls pay for each image once."""
    images.settings.home.mkdir(parents=True, exist_ok=True)
    images.settings.images_dir.symlink_to(node_cache, target_is_directory=True)
    return images


def skopeo(*args: str) -> str:
    done = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout
