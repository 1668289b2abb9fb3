"""The queue's tasks, bound to one application: each runs inside that application's context.

- deliver(message_id): send one message right after the commit that wrote it (sending.deliver);
- sweep(): every minute (crontab), stale claims back to the queue, the planners, every due message;
- retention(): every night at 3:30 in Paris, the retention periods applied (core/privacy/retention.py);
  retention_now(): the same at once, asked for by an admin ("Lancer maintenant": a first run at
  network scale takes minutes, longer than a web request may).
  Huey's crontab reads UTC here: the task wakes at half past every hour and works only when it is
  RETENTION_HOUR in Paris, summer and winter alike.
"""
from huey import crontab

RETENTION_HOUR = 3  # Paris time, at :30: after the day's desks, before the morning messages


def bind(huey, app) -> dict:
    from . import sending

    @huey.task(name="messages.deliver")
    def deliver(message_id):
        with app.app_context():
            status = sending.deliver(message_id)
            return status.value if status else None

    @huey.periodic_task(crontab(minute="*"), name="messages.sweep")
    def sweep():
        with app.app_context():
            return sending.sweep()

    @huey.periodic_task(crontab(minute="30"), name="privacy.retention")
    def retention():
        from ..clock import local_now
        from ..privacy.retention import run_retention

        with app.app_context():
            if local_now().hour != RETENTION_HOUR:
                return None
            return run_retention().counts

    @huey.task(name="privacy.retention_now")
    def retention_now():
        from ..privacy.retention import run_retention

        with app.app_context():
            return run_retention(manual=True).counts

    return {"deliver": deliver, "sweep": sweep, "retention": retention, "retention_now": retention_now}
