"""From a use case to the answer (core/answers.py): commit or roll back, and where the message goes."""
from wtforms import Form, StringField

from core.answers import attempt, error_of, status_of
from core.errors import DomainError
from core.extensions import db
from core.models import Site


class NameForm(Form):  # a plain WTForms form: the application's forms are listed in test_form_lengths.py
    name = StringField("Nom")


def add_site(name, *, refuse_with=None):
    db.session.add(Site(name=name))
    db.session.flush()
    if refuse_with is not None:
        raise refuse_with
    return name


def test_success_commits_and_returns_the_value(app):
    with app.test_request_context():
        outcome = attempt(add_site, "Centre A", form=NameForm())
        assert outcome and outcome.value == "Centre A" and outcome.status == 200
        db.session.rollback()  # nothing left to roll back: it was committed
        assert db.session.query(Site).count() == 1
        assert error_of(outcome) is None


def test_a_field_error_goes_next_to_its_field_with_400_and_nothing_is_kept(app):
    with app.test_request_context():
        form = NameForm()
        outcome = attempt(add_site, "Centre A", refuse_with=DomainError("Ce nom est déjà pris.", field="name"), form=form)
        assert not outcome and outcome.status == 400
        assert form.name.errors == ["Ce nom est déjà pris."]
        assert error_of(outcome) is None  # already next to the field
        assert status_of(form, outcome) == 400
        assert db.session.query(Site).count() == 0


def test_a_state_error_goes_to_the_top_with_409(app):
    with app.test_request_context():
        form = NameForm()
        outcome = attempt(add_site, "Centre A", refuse_with=DomainError("Ce centre vient d'être fermé."), form=form)
        assert not outcome and outcome.status == 409
        # The message itself, not the (falsy) outcome: `outcome and outcome.error` would lose it.
        assert error_of(outcome) == "Ce centre vient d'être fermé."
        assert status_of(form, outcome) == 409
        assert db.session.query(Site).count() == 0


def test_a_field_the_form_does_not_have_goes_to_the_top(app):
    with app.test_request_context():
        outcome = attempt(add_site, "Centre A", refuse_with=DomainError("Choisissez une salle.", field="room"), form=NameForm())
        assert error_of(outcome) == "Choisissez une salle." and outcome.status == 400


def test_status_of_a_page_shown_again():
    assert status_of(None) == 200
    assert status_of(type("F", (), {"errors": {"name": ["Obligatoire."]}})()) == 400
    assert status_of(type("F", (), {"errors": {}})()) == 200
