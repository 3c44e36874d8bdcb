"""/api/v1/users and /api/v1/users/me."""

from __future__ import annotations

from fastapi import APIRouter

from aicc.api.deps import DB, Actor
from aicc.api.schemas.common import Cursor, Limit, NameFilter, Page, PathId, decode_cursor, encode_cursor
from aicc.api.schemas.tenancy import Me, PasswordSet, User, UserCreate, UserUpdate
from aicc.services import users as svc

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=Me)
def who_am_i(db: DB, actor: Actor) -> Me:
    with db.read() as s:
        user = svc.get(s, actor, actor.user_id)
        base = User.model_validate(user).model_dump()
        return Me(**base, organizations=dict(actor.org_roles), projects=sorted(actor.projects))


@router.get("", response_model=Page[User])
def list_users(
    db: DB, actor: Actor, limit: Limit = 50, cursor: Cursor = None, username: NameFilter = None
) -> Page[User]:
    with db.read() as s:
        pg = svc.list_users(s, actor, after=decode_cursor(cursor), limit=limit, username=username)
        return Page(items=[User.model_validate(u) for u in pg.items], next_cursor=encode_cursor(pg.next_after))


@router.post("", response_model=User, status_code=201)
def create_user(db: DB, actor: Actor, body: UserCreate) -> User:
    with db.write() as s:
        return User.model_validate(svc.create(s, actor, username=body.username, display_name=body.display_name,
                                              email=body.email, center_role=body.center_role))


@router.get("/{user_id}", response_model=User)
def get_user(db: DB, actor: Actor, user_id: PathId) -> User:
    with db.read() as s:
        return User.model_validate(svc.get(s, actor, user_id))


@router.patch("/{user_id}", response_model=User)
def update_user(db: DB, actor: Actor, user_id: PathId, body: UserUpdate) -> User:
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    with db.write() as s:
        return User.model_validate(svc.update(s, actor, user_id, version=body.version, changes=changes))


@router.post("/{user_id}/password", response_model=User)
def set_password(db: DB, actor: Actor, user_id: PathId, body: PasswordSet) -> User:
    """Set the password used to sign in to the portal (API tokens are unaffected)."""
    with db.write() as s:
        return User.model_validate(svc.set_password(s, actor, user_id, password=body.password,
                                                    current=body.current_password))
