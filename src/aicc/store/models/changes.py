"""Counters that let the controller see what changed since it last looked, without reading everything."""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from aicc.store.models.base import Base


class ChangeRow(Base):
    """``seq``: bumped once by every transaction that changes jobs or what scheduling depends on; the other rows
    (``jobs``, ``allocations``, ``grants``, ``inventory``) hold the ``seq`` of the last transaction that changed
    that kind of thing. Bumping ``seq`` locks its row until commit, so stamps commit in order (PostgreSQL)."""

    __tablename__ = "aicc_changes"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)
