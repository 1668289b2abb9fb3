"""WSGI entry point for load tests only: the app with rate limits off (they would answer 429 to the
load tool). SECRET_KEY and DATABASE_URL come from the environment as in wsgi.py. Never deploy this.

    gunicorn -w 2 --threads 4 -b 127.0.0.1:8765 --chdir bench wsgi_bench:app
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from core import create_app

app = create_app({"RATELIMIT_ENABLED": False})
