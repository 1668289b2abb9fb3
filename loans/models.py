"""Devices, their kinds and their history."""
from datetime import date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.clock import PARIS, now
from core.db import UTCDateTime
from core.enums import LabelledEnum
from core.extensions import db
from core.models import Site, User
from core.residents import Resident


class DeviceStatus(LabelledEnum):
    available = "available", _l("Disponible")
    on_loan = "on_loan", _l("En prêt")
    in_repair = "in_repair", _l("En réparation")
    lost = "lost", _l("Perdu")
    retired = "retired", _l("Réformé")


class DeviceAction(LabelledEnum):
    """What a history row records: inventory actions, then the desk's (lend, take back, extend…)."""

    created = "created", _l("Ajouté à l'inventaire")
    imported = "imported", _l("Importé depuis un fichier")
    edited = "edited", _l("Fiche modifiée")
    send_to_repair = "send_to_repair", _l("Envoyé en réparation")
    back_from_repair = "back_from_repair", _l("Revenu de réparation")
    declare_lost = "declare_lost", _l("Déclaré perdu")
    found = "found", _l("Retrouvé")
    retire = "retire", _l("Réformé")
    transfer = "transfer", _l("Transféré vers une autre structure")
    lend = "lend", _l("Prêté")
    take_back = "take_back", _l("Rendu")
    extend = "extend", _l("Prêt prolongé")
    loan_lost = "loan_lost", _l("Déclaré perdu pendant un prêt")
    accessory_replaced = "accessory_replaced", _l("Accessoire remplacé")


class DeviceKind(db.Model):
    __tablename__ = "device_kinds"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    # Laptops and tablets hold personal data: their return asks for a wipe confirmation.
    holds_personal_data: Mapped[bool] = mapped_column(default=True)
    # Dongles carry a SIM: IMEI, phone number, operator and plan are shown for them.
    has_sim: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(Integer, default=100)


class Device(db.Model):
    __tablename__ = "devices"
    __table_args__ = (
        Index("ix_devices_current_site_status", "current_site_id", "status"),
        Index("ix_devices_home_site_status", "home_site_id", "status"),
        Index("ix_devices_kind_status", "kind_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Printed on the label for years: generated once, never changed, never reused.
    tag: Mapped[str] = mapped_column(String(8), unique=True)
    kind_id: Mapped[int] = mapped_column(ForeignKey("device_kinds.id"))
    brand: Mapped[str] = mapped_column(String(80), default="")
    model: Mapped[str] = mapped_column(String(120), default="")
    serial_number: Mapped[str | None] = mapped_column(String(120), unique=True)
    imei: Mapped[str] = mapped_column(String(20), default="")
    phone_number: Mapped[str] = mapped_column(String(30), default="")
    operator: Mapped[str] = mapped_column(String(60), default="")
    data_plan: Mapped[str] = mapped_column(String(120), default="")
    # One accessory per line (charger, case, cable, SIM…): ticked one by one at lending time.
    accessories: Mapped[str] = mapped_column(Text, default="")
    home_site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    current_site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    status: Mapped[DeviceStatus] = mapped_column(
        Enum(DeviceStatus, name="device_status", native_enum=False, length=20), default=DeviceStatus.available
    )
    condition_notes: Mapped[str] = mapped_column(Text, default="")
    funding: Mapped[str] = mapped_column(String(120), default="")
    purchase_date: Mapped[date | None] = mapped_column(Date)
    purchase_price: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, onupdate=now)

    kind: Mapped[DeviceKind] = relationship(lazy="joined", innerjoin=True)
    home_site: Mapped[Site] = relationship(foreign_keys=[home_site_id])
    current_site: Mapped[Site] = relationship(foreign_keys=[current_site_id])
    # Accessories that did not come back from a loan, until someone records them replaced.
    missing_accessories: Mapped[list["MissingAccessory"]] = relationship(
        back_populates="device", order_by="MissingAccessory.since, MissingAccessory.id",
        cascade="all, delete-orphan", passive_deletes=True,
    )

    @property
    def accessory_list(self) -> list[str]:
        """Every accessory that belongs with the device (its inventory record)."""
        return [line.strip() for line in (self.accessories or "").splitlines() if line.strip()]

    @property
    def missing_accessory_list(self) -> list["MissingAccessory"]:
        """The accessories of the list that are missing now (one query, on first use)."""
        listed = set(self.accessory_list)
        return [m for m in self.missing_accessories if m.name in listed]

    @property
    def present_accessories(self) -> list[str]:
        """What the device has today: the only accessories a loan can hand over."""
        missing = {m.name for m in self.missing_accessories}
        return [a for a in self.accessory_list if a not in missing]

    @property
    def site_ids(self) -> set[int]:
        return {self.home_site_id, self.current_site_id}

    @property
    def away_from_home(self) -> bool:
        return self.current_site_id != self.home_site_id

    # State tests, in Python (device.is_available) and in SQL (.where(Device.is_available)).
    @hybrid_property
    def is_available(self) -> bool:
        return self.status == DeviceStatus.available

    @hybrid_property
    def is_on_loan(self) -> bool:
        return self.status == DeviceStatus.on_loan

    @hybrid_property
    def is_lost(self) -> bool:
        return self.status == DeviceStatus.lost

    def __repr__(self):
        return f"<Device {self.tag} {self.status.value}>"


# The changes into and out of the statuses in which a device cannot be lent (reports/queries.py).
SERVICE_EVENTS = (
    "from_status IN ('in_repair', 'lost', 'retired') OR to_status IN ('in_repair', 'lost', 'retired')"
)


class DeviceEvent(db.Model):
    """One row per change of a device: who, when, what, which site."""

    __tablename__ = "device_events"
    __table_args__ = (
        Index("ix_device_events_device_at", "device_id", "at"),
        # The history of one loan (two rows: lent, given back): emptied with the borrower's data by an
        # erasure or the retention run (core/privacy), a batch of loans at a time.
        Index("ix_device_events_loan", "loan_id"),
        # Reports: the changes into and out of repair, loss and retirement, from which the days a
        # device could be lent are derived (reports/queries.py). A few rows among many lend/return ones.
        Index(
            "ix_device_events_service", "device_id", "at",
            sqlite_where=text(SERVICE_EVENTS), postgresql_where=text(SERVICE_EVENTS),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    action: Mapped[DeviceAction] = mapped_column(Enum(DeviceAction, name="device_action", native_enum=False, length=30))
    from_status: Mapped[DeviceStatus | None] = mapped_column(
        Enum(DeviceStatus, name="device_status", native_enum=False, length=20)
    )
    to_status: Mapped[DeviceStatus | None] = mapped_column(
        Enum(DeviceStatus, name="device_status", native_enum=False, length=20)
    )
    # Lending events point at their loan: the resident's history is found through it.
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("loans.id", ondelete="SET NULL"), index=True)
    # Transfers: the site the device went to (site_id is where the action was done).
    to_site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    note: Mapped[str] = mapped_column(Text, default="")

    device: Mapped[Device] = relationship()
    actor: Mapped[User | None] = relationship()
    site: Mapped[Site] = relationship(foreign_keys=[site_id])
    to_site: Mapped[Site | None] = relationship(foreign_keys=[to_site_id])
    loan: Mapped["Loan | None"] = relationship()


class MissingAccessory(db.Model):
    """An accessory of the device that did not come back: the next loans do not offer it."""

    __tablename__ = "device_missing_accessories"
    __table_args__ = (UniqueConstraint("device_id", "name", name="uq_device_missing_accessories_device_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text)
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    # The loan it went missing on (its borrower is seen by those who may see them, on the loan).
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("loans.id", ondelete="SET NULL"), index=True)

    device: Mapped[Device] = relationship(back_populates="missing_accessories")


class LoanOutcome(LabelledEnum):
    returned = "returned", _l("Rendu")
    lost = "lost", _l("Perdu")


class Loan(db.Model):
    """One check-out … check-in of one device."""

    __tablename__ = "loans"
    __table_args__ = (
        # The rule that must never break: at most one open loan per device, enforced by the database.
        Index(
            "uq_loans_open_device", "device_id", unique=True,
            sqlite_where=text("closed_at IS NULL"), postgresql_where=text("closed_at IS NULL"),
        ),
        Index("ix_loans_site_open_due", "site_id", "closed_at", "due_on"),
        # The admin's desk: open loans of every site by due date (the partial index holds only open loans).
        Index(
            "ix_loans_open_due", "due_on", "id",
            sqlite_where=text("closed_at IS NULL"), postgresql_where=text("closed_at IS NULL"),
        ),
        Index("ix_loans_resident_started", "resident_id", "started_at"),
        # The open loans of the people a search found (the desk's results): a few rows, not every open
        # loan of the network filtered by person.
        Index(
            "ix_loans_open_resident", "resident_id",
            sqlite_where=text("closed_at IS NULL"), postgresql_where=text("closed_at IS NULL"),
        ),
        Index("ix_loans_device_started", "device_id", "started_at"),
        # Reports: loans of a site over a period, by local dates (reports/queries.py).
        Index("ix_loans_site_started_on", "site_id", "started_on", "closed_on"),
        CheckConstraint("closed_at IS NULL OR closed_at >= started_at", name="closed_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))  # where it was lent
    lent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    due_on: Mapped[date] = mapped_column(Date)
    accessories_out: Mapped[str] = mapped_column(Text, default="")
    condition_out: Mapped[str] = mapped_column(Text, default="")
    charter_method: Mapped[str] = mapped_column(String(20), default="ticked")
    override_reason: Mapped[str] = mapped_column(Text, default="")
    # One-time key of the lending form: a resubmission lands on the loan it already created.
    form_key: Mapped[str | None] = mapped_column(String(64), unique=True)

    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The Europe/Paris calendar dates of started_at and closed_at, kept by _set_local_dates below.
    # The reports count days on loan in calendar days (a 23- or 25-hour day is one day) and select
    # a period's loans through an index on them; SQLite has no time zones to derive them in SQL.
    started_on: Mapped[date] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    outcome: Mapped[LoanOutcome | None] = mapped_column(
        Enum(LoanOutcome, name="loan_outcome", native_enum=False, length=20)
    )
    closed_site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    accessories_missing: Mapped[str] = mapped_column(Text, default="")
    condition_in: Mapped[str] = mapped_column(Text, default="")
    damaged: Mapped[bool] = mapped_column(default=False)
    data_wiped: Mapped[bool | None] = mapped_column()

    device: Mapped[Device] = relationship()
    resident: Mapped["Resident"] = relationship()
    site: Mapped[Site] = relationship(foreign_keys=[site_id])
    closed_site: Mapped[Site | None] = relationship(foreign_keys=[closed_site_id])
    lent_by: Mapped[User | None] = relationship(foreign_keys=[lent_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])

    @hybrid_property
    def is_open(self) -> bool:
        """Still out: in Python (loan.is_open) and in SQL (.where(Loan.is_open), closed_at IS NULL)."""
        return self.closed_at is None

    @is_open.inplace.expression
    @classmethod
    def _is_open_expression(cls):
        return cls.closed_at.is_(None)

    @property
    def accessories_out_list(self):
        return [a for a in (self.accessories_out or "").splitlines() if a.strip()]

    @property
    def accessories_missing_list(self):
        return [a for a in (self.accessories_missing or "").splitlines() if a.strip()]


@event.listens_for(Loan, "before_insert")
@event.listens_for(Loan, "before_update")
def _set_local_dates(_mapper, _connection, loan):
    """Every ORM write of a loan keeps its local dates in step with its instants (bulk inserts set them)."""
    if loan.started_at is None:
        loan.started_at = now()
    loan.started_on = loan.started_at.astimezone(PARIS).date()
    loan.closed_on = loan.closed_at.astimezone(PARIS).date() if loan.closed_at is not None else None


class LoanPolicy(db.Model):
    """Per site and kind of device: default loan length and how many a resident may hold at once."""

    __tablename__ = "loan_policies"
    __table_args__ = (
        UniqueConstraint("site_id", "kind_id", name="uq_loan_policies_site_kind"),
        CheckConstraint("default_days >= 0", name="default_days_positive"),
        CheckConstraint("max_per_resident >= 1", name="max_per_resident_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    kind_id: Mapped[int] = mapped_column(ForeignKey("device_kinds.id", ondelete="CASCADE"))
    default_days: Mapped[int] = mapped_column(Integer)  # 0: same-day loan, used inside the centre
    max_per_resident: Mapped[int] = mapped_column(Integer, default=1)

    kind: Mapped[DeviceKind] = relationship()


class DeviceImportDraft(db.Model):
    """An uploaded inventory CSV between its preview and its confirmation (loans/csv_io.py).

    Kept in the database, not in the session cookie (4 KB) nor on one server's disk (several app
    processes share the database only). Bound to the person who uploaded it; stale drafts are
    deleted at the next upload.
    """

    __tablename__ = "device_import_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200), default="")
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, index=True)
