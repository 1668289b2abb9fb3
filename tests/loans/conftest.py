import pytest

from core.models import Role
from loans import operations


@pytest.fixture
def kinds(db):
    kinds = operations.ensure_default_kinds()
    db.session.commit()
    return kinds


@pytest.fixture
def make_device(db, kinds):
    def make(site, kind="laptop", actor=None, **fields):
        fields.setdefault("brand", "Lenovo")
        fields.setdefault("model", "ThinkPad E14")
        device = operations.create_device(actor, site, kinds[kind], **fields)
        db.session.commit()
        return device

    return make


@pytest.fixture
def two_sites(make_site, make_user):
    """Site A and site B, with a manager and a reception agent at A, and an admin."""
    a = make_site("Centre A")
    b = make_site("Centre B")
    return {
        "a": a,
        "b": b,
        "manager_a": make_user(Role.manager, [a]),
        "reception_a": make_user(Role.reception, [a]),
        "manager_b": make_user(Role.manager, [b]),
        "admin": make_user(Role.admin, []),
    }
