"""The queue's guarantees with the real consumer (issue 11, part 3): two consumers and 200 due messages
→ 200 received, none twice; a worker killed mid-batch → the rest sent after restart, none twice; the
Redis queue for the network deployment. On SQLite and PostgreSQL."""
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

import core.clock
from core import ROOT, create_app
from core.extensions import db as _db
from core.messaging.models import Message, MessageStatus
from core.messaging.queue import get_huey, task
from tests.conftest import base_config, require
from tests.core.test_message_engine import new_message
from tests.messaging_peers import run_worker, sms_provider, smtp_server, wait_for  # noqa: F401

T0 = datetime(2026, 3, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
def app_config(tmp_path, smtp_server, sms_provider):  # noqa: F811
    return {**smtp_server.config, **sms_provider.config, "QUEUE_URL": f"sqlite:///{tmp_path}/queue.sqlite3",
            "MESSAGE_BATCH": 5}


@pytest.fixture
def clock():
    core.clock.frozen_at = T0
    yield core.clock
    core.clock.frozen_at = None


@pytest.fixture
def site_id(make_site, db):
    site_id = make_site("Centre Alpha").id
    db.session.commit()
    return site_id


@pytest.fixture
def second_app(database_url, app_config):
    """Another application on the same database and queue: another consumer, as on a second machine."""
    other = create_app(base_config(database_url, **app_config))
    yield other
    with other.app_context():
        _db.session.remove()
        _db.engine.dispose()


def counts(db):
    result = dict(db.session.execute(select(Message.status, func.count()).group_by(Message.status)).all())
    db.session.commit()
    return result


def all_sent(db, n):
    return lambda: counts(db).get(MessageStatus.sent) == n


def received_once(smtp_server, sms_provider, emails, texts):  # noqa: F811
    by_id = Counter(m["Message-ID"] for m in smtp_server.received)
    by_number = Counter(b["recipient"] for b in sms_provider.received)
    assert len(by_id) == emails and set(by_id.values()) == {1}, "an e-mail arrived twice"
    assert len(by_number) == texts and set(by_number.values()) == {1}, "an SMS arrived twice"


def test_two_consumers_and_200_due_messages_send_each_exactly_once(app, second_app, db, site_id, smtp_server, sms_provider, clock):  # noqa: F811
    messages = [new_message(site_id, n, "email" if n % 2 else "sms") for n in range(200)]
    db.session.add_all(messages)
    db.session.commit()  # 200 `deliver` tasks queued after the commit
    ids = [m.id for m in messages]
    db.session.commit()
    # The same messages asked for again on the other consumer's side (a retried task), and sweeps.
    deliver_again, sweep = task("deliver", second_app), task("sweep", second_app)
    for message_id in ids[::3]:
        deliver_again(message_id)
    for _ in range(4):
        sweep()
    with run_worker(app, workers=2), run_worker(second_app, workers=2):
        wait_for(all_sent(db, 200), timeout=120, what="200 messages sent")
    received_once(smtp_server, sms_provider, 100, 100)
    rows = db.session.execute(select(Message.attempts, Message.provider_ref, Message.claimed_by)).all()
    assert {r.attempts for r in rows} == {1} and all(r.provider_ref for r in rows)
    assert len({r.claimed_by for r in rows}) > 1  # the work was shared


def test_claims_of_a_dead_worker_are_sent_after_their_lease_and_only_once(app, db, site_id, smtp_server, clock):  # noqa: F811
    db.session.add_all(new_message(site_id, n) for n in range(30))
    db.session.commit()
    get_huey(app).flush()  # the dead worker's queue is gone too: only the sweep can find them
    dead = db.session.execute(select(Message.id).order_by(Message.id).limit(10)).scalars().all()
    db.session.execute(update(Message).where(Message.id.in_(dead)).values(
        status=MessageStatus.sending, claimed_by="dead-worker", claimed_at=T0, attempts=1))
    db.session.commit()
    with run_worker(app):
        clock.frozen_at = T0 + timedelta(minutes=5)  # within the lease: the claims may still be alive
        task("sweep", app)()
        wait_for(all_sent(db, 20), what="the 20 free messages")
        assert counts(db)[MessageStatus.sending] == 10
        clock.frozen_at = T0 + timedelta(minutes=10, seconds=1)
        task("sweep", app)()
        wait_for(all_sent(db, 30), what="the dead worker's messages")
    assert len(smtp_server.received) == 30 and len({m["Message-ID"] for m in smtp_server.received}) == 30
    attempts = dict(db.session.execute(select(Message.id, Message.attempts)).all())
    assert {attempts[i] for i in dead} == {2}


def test_a_worker_killed_mid_batch_leaves_the_rest_to_the_next_one_none_twice(app, db, database_url, app_config, site_id, smtp_server):  # noqa: F811
    db.session.add_all(new_message(site_id, n) for n in range(40))
    db.session.commit()
    get_huey(app).flush()
    smtp_server.hold(12)  # the 13th e-mail keeps its sender waiting, unanswered
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAIL_", "SMS_", "QUEUE_", "REDIS_"))}
    env.update({k: str(v) for k, v in app_config.items() if k.startswith(("MAIL_", "SMS_", "QUEUE_", "MESSAGE_"))})
    env.update(DATABASE_URL=database_url, SECRET_KEY="test-" + uuid.uuid4().hex, MAIL_USE_TLS="0", MAIL_USE_SSL="0")
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--workers", "1"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        task("sweep", app)()  # the real worker, in its own process, takes batches of 5
        assert smtp_server.holding.wait(60), "the worker process never reached the 13th e-mail"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    smtp_server.released.set()
    smtp_server.hold_at = None
    left = counts(db)
    assert left[MessageStatus.sent] == 12 and left[MessageStatus.sending] == 3  # 11-15 claimed, 13 in flight
    # Restarted eleven minutes later (the claims' lease is ten): everything left goes, once.
    core.clock.frozen_at = datetime.now(UTC) + timedelta(minutes=11)
    try:
        with run_worker(app):
            task("sweep", app)()
            wait_for(all_sent(db, 40), what="the rest of the batch")
    finally:
        core.clock.frozen_at = None
    assert len(smtp_server.received) == 40 and len({m["Message-ID"] for m in smtp_server.received}) == 40


def redis_answers() -> bool:
    import redis

    try:
        return redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        return False


def test_the_redis_queue_with_two_consumers_sends_each_once(database_url, app_config, db, site_id, smtp_server, sms_provider, clock):  # noqa: F811
    require(redis_answers(), "Redis does not answer on 127.0.0.1:6379: the network queue cannot be tested")
    config = {**app_config, "QUEUE_URL": "redis://127.0.0.1:6379/0", "QUEUE_NAME": f"test-{uuid.uuid4().hex[:10]}"}
    first, second = (create_app(base_config(database_url, **config)) for _ in range(2))
    assert type(get_huey(first)).__name__ == "RedisHuey"
    messages = [new_message(site_id, n, "email" if n % 2 else "sms") for n in range(40)]
    with first.app_context():
        _db.session.add_all(messages)
        _db.session.commit()  # 40 `deliver` tasks into Redis
        _db.session.remove()
    try:
        task("sweep", second)()
        with run_worker(first, workers=2), run_worker(second, workers=2):
            wait_for(all_sent(db, 40), timeout=60, what="40 messages through Redis")
        received_once(smtp_server, sms_provider, 20, 20)
    finally:
        get_huey(first).flush()
        for other in (first, second):
            with other.app_context():
                _db.engine.dispose()
