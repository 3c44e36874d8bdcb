"""Navigation slots for domains being built elsewhere (support programs, the secure data zone).

The pages exist so the navigation is stable and says what is coming; the domains
themselves (applications, reviews, datasets, output review) land with their own
services and fill these routes in.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from aicc.portal.app import Member, PortalRoute

router = APIRouter(route_class=PortalRoute)


@router.get("/programs")
def programs(view: Member) -> Response:
    _ = view._
    return view.render("slot.html", title=_("Programs"),
                       note=_("Support programs, calls, applications and reviews will appear here."))


@router.get("/datazone")
def datazone(view: Member) -> Response:
    _ = view._
    return view.render("slot.html", title=_("Data zone"),
                       note=_("Datasets, grants and the review of outputs leaving the secure data zone will "
                              "appear here."))
