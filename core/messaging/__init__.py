"""Messages to residents (and the daily digest to staff): what is said, to whom, by which channel, when.

- models.py    the outbox (`messages`: one row per message, recorded in the transaction of its cause,
               with a unique key so it is never written twice), consent events, per-site settings.
Messages are written by in-transaction receivers of the domain events (core/events.py `within`) and by
the periodic sweep (reminders, loans due and overdue); the worker (`flask --app wsgi worker`) sends them.
"""
