"""The notification preferences page, webhooks from the portal, and a token for `aicc login` made there."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from aicc.services import tokens
from aicc.store.db import Database
from aicc.store.models import NotificationPrefRow, NotificationProfileRow, UserRow
from tests.portal.conftest import csrf_of

Portal = Callable[[str | None], TestClient]


def test_preferences_are_saved_per_event_and_language(portal: Portal, db: Database) -> None:
    c = portal("a-member")
    page = c.get("/account/notifications")
    assert page.status_code == 200 and "알림" in page.text and "예산 80 % 도달" in page.text
    form = {"csrf": csrf_of(page.text), "lang": "en", "email:job.failed": "on", "webhook:budget.80": "on"}
    r = c.post("/account/notifications", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account/notifications?done=saved"
    with db.read() as s:
        me = s.execute(select(UserRow).where(UserRow.username == "a-member")).scalar_one()
        prefs = {p.event: (p.email, p.webhook) for p in s.execute(
            select(NotificationPrefRow).where(NotificationPrefRow.user_id == me.id)).scalars()}
        assert s.get(NotificationProfileRow, me.id).lang == "en"  # type: ignore[union-attr]
    assert prefs["job.failed"] == (True, False) and prefs["budget.80"] == (False, True)
    assert prefs["job.ended"] == (False, False)
    en = c.get("/account/notifications?done=saved", headers={"Accept-Language": "en"})
    assert "Preferences saved." in en.text


def test_a_webhook_added_in_the_portal_shows_its_secret_once(portal: Portal) -> None:
    c = portal("a-member")
    page = c.get("/account/notifications")
    r = c.post("/account/webhooks", data={"csrf": csrf_of(page.text), "url": "https://hooks.example/aicc"})
    assert r.status_code == 201
    secret = re.search(r"whsec_[A-Za-z0-9_-]+", r.text)
    assert secret
    again = c.get("/account/notifications")
    assert "https://hooks.example/aicc" in again.text and secret.group(0) not in again.text
    bad = c.post("/account/webhooks", data={"csrf": csrf_of(page.text), "url": "ftp://x.example/"})
    assert bad.status_code == 422 and "role=\"alert\"" in bad.text
    assert "https://hooks.example/aicc" not in portal("b-member").get("/account/notifications").text


def test_a_token_made_in_the_portal_works_for_the_command_line(portal: Portal, db: Database) -> None:
    c = portal("a-member")
    page = c.get("/account/notifications")
    r = c.post("/account/tokens", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 201
    token = re.search(r'id="cli-token">(aicc_[^<]+)<', r.text)
    assert token
    with db.read() as s:
        assert tokens.authenticate(s, token.group(1)).username == "a-member"
    assert c.post("/account/tokens", data={"csrf": "forged"}).status_code == 403
