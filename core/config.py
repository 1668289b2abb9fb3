"""Configuration in layers: safe defaults → instance/config.py → environment → test mapping."""
import os
from urllib.parse import urlsplit

DEFAULT_SECRET_KEY = "dev-not-secret-change-me"


class Defaults:
    SECRET_KEY = DEFAULT_SECRET_KEY
    # Unset: the local address on PORT (what `bin/demo` serves on, 5000 by default), see finish_config.
    PUBLIC_BASE_URL = ""
    PORT = 5000
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    # Slow users must not lose a form to an expiry: the token lives as long as the session.
    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # Shared desk PCs: a session ends with the browser unless "remember me" is ticked.
    REMEMBER_COOKIE_DURATION = 60 * 60 * 24 * 14
    MAX_CONTENT_LENGTH = 8 * 1024 * 1024
    BABEL_DEFAULT_LOCALE = "fr"
    BABEL_DEFAULT_TIMEZONE = "Europe/Paris"
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = False
    # Login: a person's typos lock only their own account for a while; the whole centre shares
    # one public address, so the per-address limit is much wider.
    LOGIN_LIMIT_PER_ACCOUNT = "5 per 15 minutes"
    LOGIN_LIMIT_PER_ADDRESS = "60 per 15 minutes"
    PROXY_FIX_HOPS = 0
    # The federation's data protection officer (DPO), shown on every centre's public "Vos données"
    # page; all empty: the page tells people to ask their centre, which passes requests on.
    DPO_NAME = ""
    DPO_EMAIL = ""
    DPO_ADDRESS = ""
    DPO_PHONE = ""
    # A staff session unused this long ends (not with "remember me"); 0 turns the idle timeout off.
    STAFF_IDLE_TIMEOUT_MINUTES = 30
    # Messages (core/messaging): nothing configured → every message is kept in the database (status
    # "kept", on the admin Messages page). E-mail: Flask-Mailman's names. SMS: Brevo's API.
    MAIL_SERVER = ""
    MAIL_PORT = 587
    MAIL_USE_TLS = False
    MAIL_USE_SSL = False
    MAIL_USERNAME = None
    MAIL_PASSWORD = None
    MAIL_DEFAULT_SENDER = ""
    MAIL_TIMEOUT = 30
    SMS_PROVIDER = "brevo"
    SMS_API_KEY = ""
    SMS_API_URL = "https://api.brevo.com/v3"
    SMS_SENDER = "Centre"  # 11 letters at most; a site's own sender name (message settings) wins
    SMS_TIMEOUT = 10.0
    SMS_WEBHOOK_SECRET = ""  # Brevo's webhook of SMS replies ("STOP") sends it; empty: the route is off
    # The queue: a SQLite file in instance/ unless QUEUE_URL (sqlite:///…, redis://…) or REDIS_URL.
    QUEUE_URL = ""
    QUEUE_NAME = "centres"
    MESSAGE_MAX_ATTEMPTS = 6  # temporary failures before a message is marked undelivered
    MESSAGE_LEASE_MINUTES = 10  # a claim older than this belongs to a dead worker
    MESSAGE_BATCH = 20  # messages claimed at once by the sweep
    # Erasures (core/privacy/erasure.py): the ledger file, outside the database so that a restored
    # backup is erased again (default instance/erasures.jsonl), and the key of the contacts' hashes in
    # it (default SECRET_KEY: set it when SECRET_KEY may change).
    ERASURE_LEDGER = ""
    ERASURE_HASH_KEY = ""
    # Backups (core/backup.py, `flask --app wsgi backup`): the directory (default instance/backups/) and
    # how many of the latest backups are kept there (older ones of the command's naming are deleted).
    BACKUP_DIR = ""
    BACKUP_KEEP = 14


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on", "oui")


ENV_KEYS = {
    "SECRET_KEY": str,
    "DATABASE_URL": str,
    "PUBLIC_BASE_URL": str,
    "RATELIMIT_STORAGE_URI": str,
    "TRUSTED_HOSTS": str,
    "PROXY_FIX_HOPS": int,
    "DPO_NAME": str,
    "DPO_EMAIL": str,
    "DPO_ADDRESS": str,
    "DPO_PHONE": str,
    "PORT": int,
    "STAFF_IDLE_TIMEOUT_MINUTES": int,
    "MAIL_SERVER": str,
    "MAIL_PORT": int,
    "MAIL_USE_TLS": _flag,
    "MAIL_USE_SSL": _flag,
    "MAIL_USERNAME": str,
    "MAIL_PASSWORD": str,
    "MAIL_DEFAULT_SENDER": str,
    "MAIL_TIMEOUT": int,
    "SMS_PROVIDER": str,
    "SMS_API_KEY": str,
    "SMS_API_URL": str,
    "SMS_SENDER": str,
    "SMS_TIMEOUT": float,
    "SMS_WEBHOOK_SECRET": str,
    "REDIS_URL": str,
    "QUEUE_URL": str,
    "QUEUE_NAME": str,
    "MESSAGE_MAX_ATTEMPTS": int,
    "MESSAGE_LEASE_MINUTES": int,
    "MESSAGE_BATCH": int,
    "ERASURE_LEDGER": str,
    "ERASURE_HASH_KEY": str,
    "BACKUP_DIR": str,
    "BACKUP_KEEP": int,
}


def load_config(app, test_config=None):
    app.config.from_object(Defaults)
    app.config.from_pyfile("config.py", silent=True)
    for key, cast in ENV_KEYS.items():
        if os.environ.get(key):
            app.config[key] = cast(os.environ[key])
    if os.environ.get("REDIS_URL") and not os.environ.get("RATELIMIT_STORAGE_URI"):
        app.config["RATELIMIT_STORAGE_URI"] = os.environ["REDIS_URL"]
    if test_config:
        app.config.update(test_config)
    finish_config(app)


def finish_config(app):
    cfg = app.config
    # Labels and residents' private links carry this address: without one configured, it is the
    # port the local server listens on, or they would point at a port nothing answers on.
    cfg["PUBLIC_BASE_URL"] = (cfg.get("PUBLIC_BASE_URL") or f"http://127.0.0.1:{cfg['PORT']}").rstrip("/")
    if not cfg.get("SQLALCHEMY_DATABASE_URI"):
        cfg["SQLALCHEMY_DATABASE_URI"] = cfg.get("DATABASE_URL") or (
            "sqlite:///" + os.path.join(app.instance_path, "centres.sqlite3")
        )
    public = urlsplit(cfg["PUBLIC_BASE_URL"])
    https = public.scheme == "https"
    cfg["SESSION_COOKIE_SECURE"] = bool(cfg.get("SESSION_COOKIE_SECURE")) or https
    cfg["REMEMBER_COOKIE_SECURE"] = bool(cfg.get("REMEMBER_COOKIE_SECURE")) or https
    cfg["PREFERRED_URL_SCHEME"] = public.scheme or "http"
    hosts = cfg.get("TRUSTED_HOSTS")
    if isinstance(hosts, str):
        hosts = [h.strip() for h in hosts.split(",") if h.strip()]
    if not hosts:
        hosts = [public.hostname or "localhost", "localhost", "127.0.0.1"]
    cfg["TRUSTED_HOSTS"] = hosts


def check_secret_key(app):
    if app.debug or app.testing:
        return
    if app.config["SECRET_KEY"] in (None, "", DEFAULT_SECRET_KEY):
        raise RuntimeError(
            "SECRET_KEY is not set: export SECRET_KEY=<a long random string> "
            "(python -c 'import secrets; print(secrets.token_hex(32))') or put it in instance/config.py."
        )
