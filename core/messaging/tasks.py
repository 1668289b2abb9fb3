"""The queue's tasks, bound to one application: each runs inside that application's context.

- deliver(message_id): send one message right after the commit that wrote it (sending.deliver);
- sweep(): every minute (crontab), stale claims back to the queue, the planners, every due message.
"""
from huey import crontab


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

    return {"deliver": deliver, "sweep": sweep}
