"""Edits of an organization and of an account are saved, field by field.

Each field is changed alone through the form an admin posts, then read back from the database:
it must hold its new value and every other field its old one.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from stages.auth.forms import OrganizationForm, UserCreateForm, UserEditForm
from stages.auth.models import Organization, OrganizationKind, Role, User
from stages.auth.services import check_password
from stages.extensions import db
from tests.helpers import FieldChange, assert_saved, form_with, fresh, login


@pytest.fixture
def world(make, client):
    w = type("World", (), {})()
    w.apcars = make.organization(name="APCARS")
    w.scelles = make.organization(name="Fondation Scelles")
    w.admin = make.user(Role.ADMIN)
    login(client, w.admin)
    return w


def _attr(name, before, after, stored_before=None, stored_after=None):
    return FieldChange(
        name, before, after, lambda o: getattr(o, name),
        before if stored_before is None else stored_before,
        after if stored_after is None else stored_after,
    )


# ---------------------------------------------------------------------------------------------
# An organization, and its contact details (« Organisations »)

ORGANIZATION = [
    _attr("name", "Association Aurore", "Association Aurore — Paris"),
    _attr("short_name", "Aurore", "Aurore Paris"),
    FieldChange("kind", "association", "spip", lambda o: o.kind,
                OrganizationKind.ASSOCIATION, OrganizationKind.SPIP),
    _attr("address", "34 boulevard Sébastopol, 75004 Paris", "12 rue de la Roquette, 75011 Paris"),
    _attr("email", "contact@aurore.example.org", "stages@aurore.example.org"),
    _attr("phone", "01 02 03 04 05", "01 98 76 54 32"),
    # A box: ticked is posted, unticked is not (None).
    FieldChange("lateness_counts_as_attended", "y", None, lambda o: o.lateness_counts_as_attended,
                True, False),
]


@pytest.mark.parametrize("field", [f.name for f in ORGANIZATION] + ["*"])
def test_each_organization_field_is_saved(client, make, world, field):
    organization = make.organization(
        OrganizationKind.ASSOCIATION, **{f.name: f.stored_before for f in ORGANIZATION if f.name != "kind"}
    )
    response = client.post(
        f"/organisations/{organization.id}/modifier", data=form_with(ORGANIZATION, field)
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert_saved(fresh(Organization, organization.id), ORGANIZATION, field)


def test_a_new_organization_is_saved_with_every_field(client, world):
    response = client.post("/organisations/nouvelle", data=form_with(ORGANIZATION, "*"))
    assert response.status_code == 302, response.get_data(as_text=True)
    organization_id = db.session.scalars(
        sa.select(Organization.id).where(Organization.name == "Association Aurore — Paris")
    ).one()
    assert_saved(fresh(Organization, organization_id), ORGANIZATION, "*")


# ---------------------------------------------------------------------------------------------
# An account (« Comptes »)


def _account_fields(w) -> list[FieldChange]:
    return [
        FieldChange("role", "organizer", "facilitator", lambda u: u.role,
                    Role.ORGANIZER, Role.FACILITATOR),
        FieldChange("organizations", [str(w.apcars.id)], [str(w.apcars.id), str(w.scelles.id)],
                    lambda u: sorted(o.id for o in u.organizations),
                    [w.apcars.id], sorted([w.apcars.id, w.scelles.id])),
        FieldChange("active", "y", None, lambda u: u.active, True, False),  # None: box unticked
    ]


@pytest.mark.parametrize("field", ["role", "organizations", "active", "*"])
def test_each_account_field_is_saved(client, make, world, field):
    account = make.user(Role.ORGANIZER, [world.apcars], full_name="Camille Martin")
    fields = _account_fields(world)
    response = client.post(f"/admin/comptes/{account.id}/modifier", data=form_with(fields, field))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert_saved(fresh(User, account.id), fields, field)


def test_a_new_account_is_saved_with_every_field(client, world):
    response = client.post("/admin/comptes/nouveau", data={
        "full_name": "Camille Martin", "email": "camille.martin@apcars.example.org",
        "role": "facilitator", "organizations": [str(world.apcars.id), str(world.scelles.id)],
        "password": "marronnier-Tuileries-1848",
    })
    assert response.status_code == 302, response.get_data(as_text=True)
    account_id = db.session.scalars(
        sa.select(User.id).where(User.email == "camille.martin@apcars.example.org")
    ).one()
    account = fresh(User, account_id)
    assert (account.full_name, account.role, sorted(o.id for o in account.organizations)) == (
        "Camille Martin", Role.FACILITATOR, sorted([world.apcars.id, world.scelles.id]),
    )
    assert check_password(account, "marronnier-Tuileries-1848")
    assert account.password_change_required  # chosen by someone else


def test_these_tests_cover_every_field_of_the_forms(app, world):
    """A field added to a form must be added here, so that its saving is tested too."""
    with app.test_request_context():
        organization = {f.name for f in OrganizationForm()} - {"csrf_token"}
        account = {f.name for f in UserEditForm()} - {"csrf_token"}
        new_account = {f.name for f in UserCreateForm()} - {"csrf_token"}
    assert organization == {f.name for f in ORGANIZATION}
    assert account == {f.name for f in _account_fields(world)}
    assert new_account == {"full_name", "email", "role", "organizations", "password"}
