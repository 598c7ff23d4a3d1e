"""Venues and organizations: create, edit, archive (never delete what sessions reference)."""
from datetime import timedelta

import sqlalchemy as sa

from stages.auth.models import Role
from stages.extensions import db
from stages.scheduling.models import Venue
from stages.auth.models import Organization, OrganizationKind
from stages.timeutil import today_local
from tests.helpers import login

VENUE = {
    "name": "MJD du 17e",
    "room": "Salle polyvalente",
    "address": "16 rue Jacques Kellner",
    "postal_code": "75017",
    "city": "Paris",
    "capacity": "14",
    "timezone": "Europe/Paris",
    "opening_hours": "9 h – 17 h 30",
    "accessibility": "Plain-pied",
    "access_instructions": "Sonnez à l'interphone",
}


def test_organizer_creates_edits_and_archives_a_venue(client, make):
    login(client, make.user(Role.ORGANIZER, [make.organization()]))
    assert client.post("/lieux/nouveau", data=VENUE).status_code == 302
    venue = db.session.scalars(sa.select(Venue)).one()
    assert venue.access_instructions == "Sonnez à l'interphone"
    response = client.post(f"/lieux/{venue.id}/modifier", data={**VENUE, "capacity": "20"})
    assert response.status_code == 302
    assert db.session.get(Venue, venue.id).capacity == 20
    client.post(f"/lieux/{venue.id}/archiver", data={"archive": "1"})
    assert db.session.get(Venue, venue.id).archived_at is not None
    assert "MJD du 17e" not in client.get("/lieux").get_data(as_text=True)
    assert "MJD du 17e" in client.get("/lieux?archives=1").get_data(as_text=True)
    assert "MJD du 17e" not in client.get("/stages/nouveau").get_data(as_text=True)
    client.post(f"/lieux/{venue.id}/archiver", data={"archive": "0"})
    assert db.session.get(Venue, venue.id).archived_at is None


def test_venue_bad_input(client, make):
    login(client, make.user(Role.ORGANIZER, [make.organization()]))
    for overrides, message in [
        ({"capacity": "0"}, "entre 1 et 500"),
        ({"postal_code": "7501"}, "5 chiffres"),
        ({"name": ""}, "nom du lieu"),
        ({"timezone": "Mars/Olympus"}, "choix valide"),
    ]:
        response = client.post("/lieux/nouveau", data={**VENUE, **overrides})
        assert message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Venue)) == 0


def test_venue_capacity_cannot_drop_below_a_coming_course(client, make):
    org = make.organization()
    venue = make.venue(capacity=16)
    venue.owner = org
    make.course(venue=venue, organizations=[org], capacity=14, day=today_local() + timedelta(days=3))
    login(client, make.user(Role.ORGANIZER, [org]))
    html = client.post(f"/lieux/{venue.id}/modifier", data={**VENUE, "capacity": "10"}).get_data(as_text=True)
    assert "prévoit 14 places" in html
    assert db.session.get(Venue, venue.id).capacity == 16


def test_a_venue_is_edited_by_its_association_and_admins_only(client, make):
    """Any organizer schedules in any venue; its details are its association's (a shared venue:
    the admins')."""
    apcars, other = make.organization(), make.organization()
    managed, shared = make.venue(name="Salle APCARS"), make.venue(name="Préfecture")
    managed.owner = apcars
    organizer, stranger = make.user(Role.ORGANIZER, [apcars]), make.user(Role.ORGANIZER, [other])
    db.session.commit()
    login(client, stranger)
    for venue in (managed, shared):
        assert client.get(f"/lieux/{venue.id}/modifier").status_code == 403
        assert client.post(f"/lieux/{venue.id}/archiver", data={"archive": "1"}).status_code == 403
    assert "Salle APCARS" in client.get("/lieux").get_data(as_text=True)  # listed, not editable
    assert f"/lieux/{managed.id}/modifier" not in client.get("/lieux").get_data(as_text=True)
    client.post("/deconnexion")
    login(client, organizer)
    assert client.post(f"/lieux/{managed.id}/modifier", data={**VENUE, "name": "Salle renommée"}).status_code == 302
    assert client.get(f"/lieux/{shared.id}/modifier").status_code == 403
    created = client.post("/lieux/nouveau", data={**VENUE, "name": "Nouvelle salle"})
    assert created.status_code == 302
    new = db.session.scalars(sa.select(Venue).where(Venue.name == "Nouvelle salle")).one()
    assert new.owner.id == apcars.id  # the organizer's association manages what it creates
    client.post("/deconnexion")
    login(client, make.user(Role.ADMIN))
    assert client.post(f"/lieux/{shared.id}/archiver", data={"archive": "1"}).status_code == 302
    assert db.session.get(Venue, shared.id).archived_at is not None


def test_organizations_are_managed_by_admins(client, make):
    login(client, make.user(Role.ORGANIZER, [make.organization()]))
    assert client.get("/organisations").status_code == 403
    client.post("/deconnexion")
    login(client, make.user(Role.ADMIN))
    response = client.post(
        "/organisations/nouvelle",
        data={"name": "Parquet de Créteil", "short_name": "Parquet Créteil", "kind": "parquet"},
    )
    assert response.status_code == 302
    org = db.session.scalars(sa.select(Organization).where(Organization.name == "Parquet de Créteil")).one()
    assert org.kind == OrganizationKind.PARQUET
    html = client.post(
        "/organisations/nouvelle",
        data={"name": "Parquet de Créteil", "short_name": "x", "kind": "parquet"},
    ).get_data(as_text=True)
    assert "porte déjà ce nom" in html
    html = client.post(
        "/organisations/nouvelle", data={"name": "X", "short_name": "X", "kind": "parquet", "email": "pas-une-adresse"}
    ).get_data(as_text=True)
    assert "Adresse électronique invalide" in html
    client.post(f"/organisations/{org.id}/archiver", data={"archive": "1"})
    assert db.session.get(Organization, org.id).archived_at is not None
