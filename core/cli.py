"""Flask CLI: create-admin, demo."""
import click
from flask_babel import force_locale

from . import auth
from .extensions import db
from .models import Role, User, find_user_by_email, normalise_email


def register(app):
    app.cli.add_command(create_admin)
    app.cli.add_command(demo)


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
