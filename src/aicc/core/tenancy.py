"""Who people are at a center: organization kinds and roles.

Center-wide roles (``center_admin``, ``reviewer``) belong to a user; organization
roles (``org_admin``, ``member``, ``data_custodian``) belong to a membership, so a
person can be an admin of their startup and a plain member elsewhere.
"""

from __future__ import annotations

import enum


class OrgKind(enum.StrEnum):
    STARTUP = "startup"
    UNIVERSITY = "university"
    HOSPITAL = "hospital"
    COMPANY = "company"
    PUBLIC = "public"


class CenterRole(enum.StrEnum):
    CENTER_ADMIN = "center_admin"
    REVIEWER = "reviewer"


class OrgRole(enum.StrEnum):
    ORG_ADMIN = "org_admin"
    MEMBER = "member"
    DATA_CUSTODIAN = "data_custodian"


class InvitationState(enum.StrEnum):
    """An organization's invitation of an existing user: membership needs the invitee's consent."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


def invitation_transition(state: InvitationState, action: str) -> InvitationState:
    """pending → accepted | declined (by the invitee) | withdrawn (by the organization); nothing after."""
    if state is not InvitationState.PENDING:
        raise ValueError(f"the invitation is already {state.value}")
    return {"accept": InvitationState.ACCEPTED, "decline": InvitationState.DECLINED,
            "withdraw": InvitationState.WITHDRAWN}[action]
