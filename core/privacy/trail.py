"""The access trail: who opened which resident's record or export, and each staff login.

A row holds the staff account, the action, the resident's number and the instant: no name of a
resident, nothing typed. Written in the request's transaction (the page that opens a record commits
it); read by admins on the "Accès aux fiches" page, newest first, a page at a time, filtered by the
resident's number or the staff member. Deleted after the log retention period by the nightly run.
"""
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from core.clock import now
from core.extensions import db
from core.residents import Resident

from .models import AccessAction, AccessRecord

PAGE_SIZE = 50


def record_access(user, action: AccessAction, resident_id: int | None = None) -> AccessRecord:
    """Add a row of the trail to the current transaction (the caller commits)."""
    row = AccessRecord(at=now(), user_id=getattr(user, "id", None), action=action, resident_id=resident_id)
    db.session.add(row)
    return row


@dataclass
class TrailFilters:
    """The filters of the trail page, already read and checked (core.privacy.forms)."""

    resident_id: int | None = None
    user_id: int | None = None
    page: int = 1
    params: dict = field(default_factory=dict)  # for the pages' links

    @property
    def is_filtered(self) -> bool:
        return self.resident_id is not None or self.user_id is not None


def trail_page(filters: TrailFilters):
    """One page of the trail, newest first (db.paginate: the rows with their staff account and the
    resident's current name, then their count). The indexes (at), (resident_id, at) and (user_id, at)
    serve each filter. A page past the end shows the last."""
    query = (
        select(AccessRecord).order_by(AccessRecord.at.desc(), AccessRecord.id.desc())
        .options(joinedload(AccessRecord.user), joinedload(AccessRecord.resident))
    )
    if filters.resident_id is not None:
        query = query.where(AccessRecord.resident_id == filters.resident_id)
    if filters.user_id is not None:
        query = query.where(AccessRecord.user_id == filters.user_id)
    page = db.paginate(query, page=filters.page, per_page=PAGE_SIZE, max_per_page=PAGE_SIZE, error_out=False)
    if not page.items and page.pages and filters.page > page.pages:
        page = db.paginate(query, page=page.pages, per_page=PAGE_SIZE, max_per_page=PAGE_SIZE, error_out=False)
    return page


def resident_label(resident: Resident | None) -> str:
    """How the trail page names a resident: their current name, or nothing once anonymised."""
    if resident is None or resident.anonymised_at is not None:
        return ""
    return resident.full_name
