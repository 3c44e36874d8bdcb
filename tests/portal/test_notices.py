"""Messages the new pages pick from tables (notices after a change) have Korean too; the catalog test sees only
literal ``_()`` calls."""

from __future__ import annotations

import pytest

from aicc.core import programs as rules
from aicc.core.datazone.checks import CheckStatus, FileKind
from aicc.core.datazone.datasets import ColumnRole
from aicc.portal.i18n import catalog
from aicc.portal.routes import datazone, program_forms
from aicc.services import program_reports


def _korean(message: str) -> bool:
    hit = catalog("ko").get(message)
    return hit is not None and bool(hit.string)


@pytest.mark.parametrize("table", [program_forms.NOTICES, datazone.NOTICES])
def test_every_notice_has_korean(table: dict[str, str]) -> None:
    assert not [m for m in table.values() if not _korean(m)]


def test_stored_identifiers_shown_on_pages_have_korean() -> None:
    shown = ({s.value for s in rules.ApplicationState} | {s.value for s in rules.AgreementState}
             | {s.value for s in rules.ReviewState} | {s.value for s in rules.ReclaimState}
             | {t.value for t in rules.Track} | {k.value for k in rules.AmendmentKind}
             | {c.value for c in CheckStatus} | {k.value for k in FileKind} | {r.value for r in ColumnRole}
             | set(program_reports.SECTIONS)
             | {"accepting", "upcoming", "closed", "open", "sensitive", "registered", "published", "withdrawn",
                "requested", "approved", "rejected", "revoked", "held", "checked", "decided"})
    missing = sorted(m for m in shown if not _korean(m))
    assert not missing, missing
    english = {str(m.id): str(m.string) for m in catalog("en") if m.id and m.string}
    assert english and all("_" not in v for v in english.values())  # English readers get words, not identifiers
    assert not sorted(m for m in shown if "_" in m and m not in english)
