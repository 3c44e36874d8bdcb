"""Messages the new pages pick from tables (notices after a change) have Korean too; the catalog test sees only
literal ``_()`` calls."""

from __future__ import annotations

import re

import pytest

from aicc.core import programs as rules
from aicc.core.datazone.checks import CheckStatus, FileKind
from aicc.core.datazone.datasets import ColumnRole
from aicc.portal.catalog import EN, KO
from aicc.portal.routes import datazone, programs
from aicc.services import program_reports


@pytest.mark.parametrize("table", [programs.NOTICES, datazone.NOTICES])
def test_every_notice_has_korean(table: dict[str, str]) -> None:
    assert not [m for m in table.values() if m not in KO]


def test_stored_identifiers_shown_on_pages_have_korean() -> None:
    shown = ({s.value for s in rules.ApplicationState} | {s.value for s in rules.AgreementState}
             | {s.value for s in rules.ReviewState} | {s.value for s in rules.ReclaimState}
             | {t.value for t in rules.Track} | {k.value for k in rules.AmendmentKind}
             | {c.value for c in CheckStatus} | {k.value for k in FileKind} | {r.value for r in ColumnRole}
             | set(program_reports.SECTIONS)
             | {"accepting", "upcoming", "closed", "open", "sensitive", "registered", "published", "withdrawn",
                "requested", "approved", "rejected", "revoked", "held", "checked", "decided"})
    missing = sorted(m for m in shown if m not in KO)
    assert not missing, missing
    assert all("_" not in v for v in EN.values())  # English readers get words, not identifiers
    for message, korean in KO.items():
        assert set(re.findall(r"{\w+}", message)) == set(re.findall(r"{\w+}", korean)), message
