import pytest

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
