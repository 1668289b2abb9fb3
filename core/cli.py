"""Flask CLI: create-admin, demo, worker, backup, restore, retention."""
import click
from flask_babel import force_locale

from . import auth
from .extensions import db
from .models import Role, User, find_user_by_email, normalise_email


def register(app):
    app.cli.add_command(create_admin)
    app.cli.add_command(demo)
    app.cli.add_command(worker)
    app.cli.add_command(backup)
    app.cli.add_command(restore)
    app.cli.add_command(retention)


@click.command("create-admin")
@click.option("--email", prompt="Adresse e-mail")
@click.option("--name", prompt="Nom et prénom")
@click.password_option("--password", prompt="Mot de passe (10 caractères au moins)")
def create_admin(email, name, password):
    """Create the first administrator account."""
    from .forms import MIN_PASSWORD

    if len(password) < MIN_PASSWORD:
        raise click.ClickException(f"Le mot de passe doit faire au moins {MIN_PASSWORD} caractères.")
    if "@" not in email:
        raise click.ClickException("Adresse e-mail invalide.")
    if find_user_by_email(email):
        raise click.ClickException("Un compte existe déjà avec cette adresse.")
    user = User(email=normalise_email(email), name=name.strip(), role=Role.admin, active=True, session_version=1)
    auth.set_password(user, password)
    db.session.add(user)
    db.session.commit()
    click.echo(f"Administrateur créé : {user.email}")


@click.command("demo")
def demo():
    """Load demo data (the four partner sites, one account per role). Running it twice changes nothing."""
    from .demo import load_demo

    with force_locale("fr"):
        summary = load_demo()
    db.session.commit()
    for line in summary:
        click.echo(line)


@click.command("worker")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Threads sending messages at once.")
@click.option("--no-periodic", is_flag=True, help="Do not run the every-minute sweep here (another worker does).")
def worker(workers, no_periodic):
    """Run the task queue's consumer and its scheduler: sends messages, runs the sweep every minute."""
    import logging

    from flask import current_app

    from .messaging.queue import get_huey

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = current_app._get_current_object()
    huey = get_huey(app)
    click.echo(f"Worker : file {type(huey).__name__} « {huey.name} », envois en parallèle : {workers}.")
    # SIGTERM (systemd stop, bin/demo exit) lets a send in progress finish (30 s at most): a send cut
    # in the middle leaves its claim to expire (MESSAGE_LEASE_MINUTES) before the message goes again.
    consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=not no_periodic,
                                    check_worker_health=True, max_delay=2.0, graceful_signal="TERM",
                                    shutdown_timeout=30)
    consumer.run()


@click.command("backup")
def backup():
    """Write a consistent copy of the database into BACKUP_DIR (its path on the last line); keep the last BACKUP_KEEP."""
    from . import backup as backups

    try:
        path = backups.make_backup()
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(path)


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Ne pas demander de confirmation.")
def restore(file, yes):
    """Replace the whole database with the backup FILE, then erase again the people erased since."""
    from . import backup as backups

    try:
        backups.check_backup(file)
        if not yes:
            click.confirm(f"Remplacer toute la base {backups.describe_target()} par la sauvegarde {file} ? "
                          "Ce qui a été enregistré depuis cette sauvegarde sera perdu.", abort=True)
        restored = backups.restore(file)
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    if restored.upgraded:
        click.echo(f"Schéma mis à jour depuis la version {restored.revision}.")
    replayed = restored.replayed
    click.echo(f"Effacements rejoués — habitants : {replayed.get('residents', 0)}, "
               f"contacts de réservation : {replayed.get('contacts', 0)}.")
    click.echo(f"Base restaurée depuis {restored.path}")


@click.command("retention")
@click.option("--dry-run", is_flag=True, help="Dire ce que l'exécution ferait, sans rien changer.")
@click.option("--batch-size", default=200, show_default=True, type=click.IntRange(10, 10_000))
def retention(dry_run, batch_size):
    """Apply the retention periods now (for cron, where the worker does not run): counts only."""
    from .privacy.retention import KINDS, preview, run_retention

    if dry_run:
        seen = preview()
        for kind in KINDS:
            click.echo(f"{kind}: {seen.counts[kind]}")
        click.echo(f"warnings: {seen.warnings}")
        return
    report = run_retention(manual=True, batch_size=batch_size)
    for kind, count in report.counts.items():
        click.echo(f"{kind}: {count}")
    click.echo(f"Exécution {report.run_id} : {report.seconds:.1f} s, lot le plus long {report.longest_batch:.3f} s.")
