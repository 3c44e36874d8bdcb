"""The token cache never outlives a change of access: in this process, in another, or during a lookup."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from aicc.services.principal import Principal
from aicc.services.token_cache import SharedEpoch, TokenCache

BOB = Principal(user_id=7, username="bob", center_role=None, org_roles={}, projects=frozenset())


def _bump(path: Path) -> None:
    SharedEpoch(path).bump()


def test_a_change_made_in_another_process_drops_this_process_cached_token(tmp_path: Path) -> None:
    cache = TokenCache()
    cache.share(tmp_path / "auth-epoch")
    cache.put("tok", cache.epoch(), BOB)
    assert cache.get("tok") == BOB
    child = multiprocessing.get_context("spawn").Process(target=_bump, args=(tmp_path / "auth-epoch",))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert cache.get("tok") is None


def test_a_lookup_that_read_the_rows_before_a_revocation_committed_is_not_kept() -> None:
    cache = TokenCache()
    epoch = cache.epoch()  # a request starts its lookup and reads the (still unrevoked) token row
    cache.invalidate()  # meanwhile another request revokes the token ...
    cache.committed()  # ... and commits
    cache.put("tok", epoch, BOB)  # the first request caches what it read
    assert cache.get("tok") is None


def test_a_cached_token_lapses_at_its_own_expiry_before_the_cache_ttl() -> None:
    cache = TokenCache()
    cache.put("tok", cache.epoch(), BOB, valid_s=0.0)
    assert cache.get("tok") is None
    cache.put("tok", cache.epoch(), BOB)
    assert cache.get("tok") == BOB
