"""Who is calling, and what they may see.

Every service takes a :class:`Principal` and asks it before reading or writing.
Objects of another tenant are reported as *not found*, never *forbidden*, so a
user cannot probe which organizations or projects exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aicc.core.errors import Forbidden, NotFound
from aicc.core.tenancy import CenterRole, OrgRole


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    username: str
    center_role: CenterRole | None = None
    org_roles: Mapping[int, OrgRole] = field(default_factory=dict)
    projects: frozenset[int] = frozenset()
    """Projects the user is a member of (org admins see their organizations' projects besides)."""

    @property
    def is_center_admin(self) -> bool:
        return self.center_role is CenterRole.CENTER_ADMIN

    @property
    def is_reviewer(self) -> bool:
        return self.center_role is CenterRole.REVIEWER

    def sees_org(self, org_id: int) -> bool:
        return self.is_center_admin or org_id in self.org_roles

    def is_org_admin(self, org_id: int) -> bool:
        return self.is_center_admin or self.org_roles.get(org_id) is OrgRole.ORG_ADMIN

    def sees_project(self, project_id: int, org_id: int) -> bool:
        return self.is_org_admin(org_id) or project_id in self.projects

    def require_center_admin(self) -> None:
        if not self.is_center_admin:
            raise Forbidden("only a center admin may do this")

    def require_org_admin(self, org_id: int, what: str = "organization") -> None:
        if not self.sees_org(org_id):
            raise NotFound(f"{what} not found")
        if not self.is_org_admin(org_id):
            raise Forbidden("only an organization admin or a center admin may do this")


SYSTEM = Principal(user_id=0, username="system", center_role=CenterRole.CENTER_ADMIN)
"""The principal of the controller and of set-up commands run on the server itself."""
