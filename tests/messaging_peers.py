"""Real protocol peers for the messages, and the real queue consumer (TESTING.md).

Use in a test module: `from tests.messaging_peers import run_worker, sms_provider, smtp_server  # noqa: F401`
(the fixtures must be imported into the module, or into a conftest, to be found).

- `smtp_server`: an aiosmtpd server on 127.0.0.1, port 0; `.config` is the app configuration that points
  at it, `.received` the messages it accepted (email.message.Message objects), `.fail_with(code)` makes
  it answer RCPT with that code (421/451: temporary; 550: refused) until `.fail_with(None)`, `.hold(n)`
  keeps the sender of the (n+1)th message waiting for the answer to DATA (`.holding` is set then).
- `sms_provider`: a werkzeug server speaking Brevo's POST /v3/transactionalSMS/send; `.config` for the
  app, `.received` the JSON bodies it accepted, `.answer(status)` its next answers (400, 401, 402, 429,
  500, or "timeout": it does not answer before the client's SMS_TIMEOUT), `.answer(None)` back to 201.
- `run_worker(app, workers=1)`: a context manager running Huey's consumer (its worker threads and
  scheduler) in this process against the app's database and queue; stopped at the end of the block.
- `wait_for(predicate, timeout)`: poll (never sleep blindly) until predicate() is true.
"""
import asyncio
import email
import email.policy
import json
import threading
import time
from contextlib import contextmanager

import pytest
from aiosmtpd.controller import Controller
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

SMS_KEY = "test-brevo-key"


def wait_for(predicate, timeout=20.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# --- SMTP ----------------------------------------------------------------------------------------


class _Handler:
    def __init__(self, server):
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        code = self.server.failing
        if code:
            return f"{code} {'Try again later' if code < 500 else 'Mailbox unavailable'}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.server.hold_at is not None and len(self.server.received) >= self.server.hold_at:
            self.server.holding.set()  # a sender is stuck here, before our "250": nothing accepted
            while not self.server.released.is_set():
                await asyncio.sleep(0.02)
            return "421 Service not available, closing channel"
        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.server.lock:
            self.server.received.append(parsed)
            self.server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class _Controller(Controller):
    """aiosmtpd's Controller on port 0: read the bound port back before it connects to itself."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpServer:
    def __init__(self):
        self.received: list = []
        self.envelopes: list = []
        self.failing = None
        self.hold_at = None  # hold(n): the (n+1)th DATA waits, unanswered, until release()
        self.holding = threading.Event()
        self.released = threading.Event()
        self.lock = threading.Lock()
        self.controller = _Controller(_Handler(self), hostname="127.0.0.1", port=0)

    def start(self):
        self.controller.start()
        self.port = self.controller.port
        return self

    def stop(self):
        self.released.set()
        self.controller.stop()

    def hold(self, after):
        """Accept `after` messages, then keep the next sender waiting before the answer to DATA
        (a worker killed there has had nothing accepted)."""
        self.hold_at = after

    def fail_with(self, code):
        self.failing = code

    @property
    def config(self):
        return {
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": self.port,
            "MAIL_USE_TLS": False,
            "MAIL_USE_SSL": False,
            "MAIL_DEFAULT_SENDER": "Centre social <ne-pas-repondre@centres.example.org>",
            "MAIL_TIMEOUT": 5,
        }

    def to(self, address):
        with self.lock:
            return [m for m in self.received if address in str(m["To"])]


@pytest.fixture
def smtp_server():
    server = SmtpServer().start()
    try:
        yield server
    finally:
        server.stop()


# --- SMS (Brevo) ---------------------------------------------------------------------------------


class SmsProvider:
    """POST /v3/transactionalSMS/send as Brevo documents it (developers.brevo.com)."""

    def __init__(self, timeout=1.0):
        self.received: list = []
        self.answers: list = []  # queued statuses for the next requests; empty → 201
        self.sticky = None
        self.lock = threading.Lock()
        self.timeout = timeout
        self.release = threading.Event()
        self.next_id = 1511882900176220

    def answer(self, *statuses, sticky=False):
        with self.lock:
            if sticky:
                self.sticky = statuses[0] if statuses else None
            else:
                self.answers.extend(statuses)
            if statuses == (None,):
                self.answers.clear()
                self.sticky = None

    def _status(self):
        with self.lock:
            if self.answers:
                return self.answers.pop(0)
            return self.sticky

    def __call__(self, environ, start_response):
        request = Request(environ)
        response = self.handle(request)
        return response(environ, start_response)

    def handle(self, request):
        if request.method != "POST" or request.path != "/v3/transactionalSMS/send":
            return _json({"code": "not_found", "message": "Not found"}, 404)
        if request.headers.get("api-key") != SMS_KEY:
            return _json({"code": "unauthorized", "message": "Key not found"}, 401)
        try:
            body = json.loads(request.get_data(as_text=True))
        except ValueError:
            return _json({"code": "bad_request", "message": "Invalid JSON"}, 400)
        missing = [f for f in ("sender", "recipient", "content") if not body.get(f)]
        if missing:
            return _json({"code": "missing_parameter", "message": f"{missing[0]} is missing"}, 400)
        if not str(body["recipient"]).isdigit() or len(body["sender"]) > 11:
            return _json({"code": "invalid_parameter", "message": "Invalid recipient or sender"}, 400)
        status = self._status()
        if status == "timeout":
            self.release.wait(self.timeout * 3)  # answers long after the client gave up
            return _json({"code": "timeout"}, 504)
        if status == 400:
            return _json({"code": "invalid_parameter", "message": "Invalid phone number"}, 400)
        if status == 401:
            return _json({"code": "unauthorized", "message": "Key not found"}, 401)
        if status == 402:
            return _json({"code": "not_enough_credits", "message": "Not enough credits"}, 402)
        if status == 429:
            return _json({"code": "too_many_requests", "message": "Rate limit"}, 429)
        if status:
            return _json({"code": "internal_error", "message": "Internal error"}, int(status))
        with self.lock:
            self.next_id += 1
            self.received.append(body)
            return _json({"messageId": self.next_id}, 201)

    def to(self, number):
        with self.lock:
            return [b for b in self.received if b["recipient"] == number.lstrip("+")]


def _json(data, status):
    return Response(json.dumps(data), status=status, mimetype="application/json")


@pytest.fixture
def sms_provider():
    provider = SmsProvider()
    server = make_server("127.0.0.1", 0, provider, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    provider.url = f"http://127.0.0.1:{server.server_port}/v3"
    provider.config = {
        "SMS_PROVIDER": "brevo",
        "SMS_API_KEY": SMS_KEY,
        "SMS_API_URL": provider.url,
        "SMS_SENDER": "CentreTest",
        "SMS_TIMEOUT": provider.timeout,
    }
    try:
        yield provider
    finally:
        provider.release.set()
        server.shutdown()
        thread.join()


# --- the real consumer ---------------------------------------------------------------------------


@contextmanager
def run_worker(app, workers=1, periodic=False):
    """Huey's consumer for `app` in threads of this process, stopped (gracefully) at the end.

    periodic=False by default: a test queues `sweep` itself (`task("sweep", app)()`) at the moment it
    chooses, with the project's clock frozen where it wants, instead of waiting for the minute."""
    from core.messaging.queue import get_huey

    huey = get_huey(app)
    consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=periodic,
                                    initial_delay=0.02, max_delay=0.1, check_worker_health=False)
    consumer._set_signal_handlers = lambda: None  # not the main program: leave Ctrl+C to pytest
    consumer.start()
    try:
        yield consumer
    finally:
        consumer.stop(graceful=True)
