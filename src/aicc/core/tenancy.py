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
