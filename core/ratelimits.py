"""Per-address limits that refuse only failures (ASVS 6.1.1: no lock-out of people who know their secret).

A whole centre — the desk and the public computer room — shares one public address. Flask-Limiter's
decorators refuse a request before the view runs, so once someone in the computer room has made enough
failed attempts, everybody behind that address would be refused: staff with the right password,
residents with a valid private link. Here the request runs first; only a failure is counted and, past
the limit, answered 429. The attacker is stopped; a right password or a valid link still gets in.
(The per-account login limit, a plain Flask-Limiter decorator, still protects each account.)

Counts live in Flask-Limiter's storage (RATELIMIT_STORAGE_URI: Redis with several processes).
"""
import logging
from collections.abc import Callable
from functools import wraps

import limits
from flask import current_app
from werkzeug.exceptions import NotFound, TooManyRequests

from .extensions import limiter, remote_address

log = logging.getLogger("core.security")


class FailureLimit:
    def __init__(self, limit: Callable[[], str], scope: str):
        self.limit, self.scope = limit, scope

    def count_failure(self) -> None:
        """Count one failure from this address; past the limit, refuse it (429)."""
        if not limiter.enabled:
            return
        prefix = current_app.config.get("RATELIMIT_KEY_PREFIX", "")
        if not limiter.limiter.hit(limits.parse(self.limit()), prefix, "failures", self.scope, remote_address()):
            log.warning("rate limit scope=%s", self.scope)
            raise TooManyRequests()

    def on_not_found(self, view):
        """Decorate a view whose failures are 404s (a guessed private link): they count, and past the limit
        they are refused; a link that exists always opens."""

        @wraps(view)
        def wrapped(*args, **kwargs):
            try:
                return view(*args, **kwargs)
            except NotFound:
                self.count_failure()
                raise

        return wrapped
