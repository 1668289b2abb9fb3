"""WSGI entry point for load tests only. SECRET_KEY and DATABASE_URL (and REDIS_URL, PROXY_FIX_HOPS)
come from the environment as in wsgi.py. Never deploy this.

    gunicorn -w 4 -b 127.0.0.1:8765 --chdir bench wsgi_bench:app

BENCH_RATE_LIMITS=on keeps the rate limits as in production (their storage: REDIS_URL or
RATELIMIT_STORAGE_URI; BENCH_RATELIMIT_PREFIX keys them apart from other runs); otherwise they are off
(they would answer 429 to a load tool that posts from one address). BENCH_SEAT_LOCK=slot turns on the
narrower lock of seat bookings (reservations/ledger.py, lock_seat).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from core import create_app

config = {"RATELIMIT_ENABLED": os.environ.get("BENCH_RATE_LIMITS") == "on"}
if os.environ.get("BENCH_RATELIMIT_PREFIX"):
    config["RATELIMIT_KEY_PREFIX"] = os.environ["BENCH_RATELIMIT_PREFIX"]
if os.environ.get("BENCH_SEAT_LOCK"):
    config["BOOKING_SEAT_LOCK"] = os.environ["BENCH_SEAT_LOCK"]
app = create_app(config)

if os.environ.get("BENCH_LOCK_TIMES"):
    # The time each booking waits for its lock, one line per call ("seat 1.234" in ms), appended to
    # the file (one short write per line: the workers' lines do not interleave).
    import time
    from functools import wraps

    from reservations import bookings, workshops

    def timed(name, function):
        @wraps(function)
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                line = f"{name} {(time.perf_counter() - started) * 1000:.3f}\n".encode()
                descriptor = os.open(os.environ["BENCH_LOCK_TIMES"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(descriptor, line)
                finally:
                    os.close(descriptor)

        return wrapper

    bookings.lock_seat = timed("seat", bookings.lock_seat)
    workshops.lock_workshop = timed("workshop", workshops.lock_workshop)
