"""A constant number of SQL statements per inventory page, whatever the number of devices or events,
and indexes behind every filter of the list."""
import pytest
from sqlalchemy import inspect

from loans import operations
from loans.models import Device


def spread(db, two_sites, make_device, n):
    """n devices of every kind over both sites, some away from home, some in repair."""
    a, b = two_sites["a"], two_sites["b"]
    kinds = ("laptop", "tablet", "dongle")
    for i in range(n):
        device = make_device(a if i % 2 else b, kind=kinds[i % 3], brand=f"Marque {i}")
        if i % 5 == 0:
            device.current_site_id = b.id if device.home_site_id == a.id else a.id
        if i % 7 == 0:
            operations.apply("send_to_repair", two_sites["admin"], device.id, site_id=device.home_site_id)
    db.session.commit()


def statements(count_queries, client, url):
    client.get(url)  # warm-up: the login session, caches
    with count_queries() as n:
        response = client.get(url)
    assert response.status_code == 200
    return n()


@pytest.mark.parametrize("who", ["manager_a", "reception_a", "admin"])
@pytest.mark.parametrize("url", [
    "/equipements", "/equipements?sort=site", "/equipements?sort=-kind&status=available",
    "/equipements?q=marque", "/equipements/export.csv",
])
def test_list_and_export_statements_do_not_grow_with_the_devices(db, two_sites, make_device, client_for, count_queries, who, url):
    client = client_for(two_sites[who])
    spread(db, two_sites, make_device, 3)
    few = statements(count_queries, client, url)
    spread(db, two_sites, make_device, 57)
    many = statements(count_queries, client, url)
    assert few == many
    assert many <= 7, f"{url}: {many} statements"


def test_device_page_statements_do_not_grow_with_its_history(db, two_sites, make_device, client_for, count_queries):
    manager = two_sites["manager_a"]
    client = client_for(manager)
    device = make_device(two_sites["a"], actor=manager)
    url = f"/equipements/{device.tag}"
    few = statements(count_queries, client, url)
    for i in range(15):  # 30 more events, by several people, with transfers to other sites
        operations.apply("send_to_repair", manager, device.id, site_id=two_sites["a"].id, note=f"panne {i}")
        operations.apply("back_from_repair", two_sites["admin"], device.id, site_id=two_sites["a"].id)
    operations.apply("transfer", two_sites["admin"], device.id, site_id=two_sites["a"].id, to_site=two_sites["b"])
    operations.apply("transfer", two_sites["admin"], device.id, site_id=two_sites["b"].id, to_site=two_sites["a"])
    db.session.commit()
    many = statements(count_queries, client, url)
    assert few == many
    assert many <= 8, f"{many} statements"


def test_every_list_filter_has_an_index(app, db):
    indexes = {tuple(ix["column_names"]) for ix in inspect(db.engine).get_indexes(Device.__tablename__)}
    uniques = {tuple(u["column_names"]) for u in inspect(db.engine).get_unique_constraints(Device.__tablename__)}
    covered = {columns[0] for columns in indexes | uniques}
    assert {"home_site_id", "current_site_id", "kind_id", "tag", "serial_number"} <= covered
    assert ("current_site_id", "status") in indexes and ("home_site_id", "status") in indexes
