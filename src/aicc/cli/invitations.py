"""`aicc invitations …`: invitations to join an organization, answered by the invitee.

Organization admins invite with `aicc admin members invite ORG USER`; the user sees them here and accepts
or declines. Until they accept they are not a member (and see nothing of the organization).
"""

from __future__ import annotations

from typing import Annotated

import typer

from aicc.cli.client import Client
from aicc.cli.output import emit

app = typer.Typer(help="Invitations to join an organization (yours to accept or decline).", no_args_is_help=True)
JSON = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
COLS = ("id", "organization", "username", "role", "state", "created_at", "decided_at")


@app.command("list")
def invitations_list(as_json: JSON = False) -> None:
    """Invitations waiting for your answer."""
    emit(Client().get("/invitations"), as_json=as_json, columns=COLS)


@app.command("accept")
def invitations_accept(invitation_id: int, as_json: JSON = False) -> None:
    """Join the organization that invited you."""
    emit(Client().post(f"/invitations/{invitation_id}/accept", None), as_json=as_json, columns=COLS)


@app.command("decline")
def invitations_decline(invitation_id: int, as_json: JSON = False) -> None:
    emit(Client().post(f"/invitations/{invitation_id}/decline", None), as_json=as_json, columns=COLS)
