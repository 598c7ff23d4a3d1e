"""The permission helper: role and scope, 403 on the objects of others (never 404, never 500)."""
from types import SimpleNamespace
import pytest
import sqlalchemy as sa

from stages.auth.models import AuditEntry, Role
from stages.scheduling.models import Course
from stages.enrollment.models import LegalMeasure
from stages.auth.permissions import Permission, can, visible
from stages.extensions import db
from stages.models import OrganizationKind
from tests.helpers import login


@pytest.fixture
def two_sides(make):
    """Two associations, two authorities, one session and one measure on each side."""
    w = SimpleNamespace()
    w.assoc_a, w.assoc_b = make.organization(), make.organization()
    w.parquet_a, w.parquet_b = make.authority(), make.authority()
    w.fac_a = make.user(Role.FACILITATOR, [w.assoc_a])
    w.fac_b = make.user(Role.FACILITATOR, [w.assoc_b])
    w.org_a = make.user(Role.ORGANIZER, [w.assoc_a])
    w.org_b = make.user(Role.ORGANIZER, [w.assoc_b])
    w.liaison_a = make.user(Role.LIAISON, [w.parquet_a])
    w.liaison_b = make.user(Role.LIAISON, [w.parquet_b])
    w.admin = make.user(Role.ADMIN)
    w.course_a = make.course(organizations=[w.assoc_a], facilitators=[w.fac_a])
    w.course_b = make.course(organizations=[w.assoc_b], facilitators=[w.fac_b])
    w.measure_a = make.measure(authority=w.parquet_a, handling=w.assoc_a)
    w.measure_b = make.measure(authority=w.parquet_b, handling=w.assoc_b)
    make.enrollment(w.measure_a, w.course_a)
    make.enrollment(w.measure_b, w.course_b)
    db.session.commit()
    return w


def test_matrix_of_the_helper(two_sides):
    w = two_sides
    pa, pb = w.measure_a.participant, w.measure_b.participant
    expectations = [
        (w.admin, Permission.ADMIN, None, True),
        (w.org_a, Permission.ADMIN, None, False),
        (w.org_a, Permission.SESSION_VIEW, w.course_a, True),
        (w.org_a, Permission.SESSION_EDIT, w.course_b, False),
        (w.org_a, Permission.MEASURE_VIEW, w.measure_a, True),
        (w.org_a, Permission.MEASURE_VIEW, w.measure_b, False),
        (w.org_a, Permission.PARTICIPANT_VIEW, pb, False),
        (w.fac_a, Permission.SESSION_RUN, w.course_a, True),
        (w.fac_a, Permission.SESSION_RUN, w.course_b, False),
        (w.fac_a, Permission.PARTICIPANT_VIEW, pa, True),
        (w.fac_a, Permission.PARTICIPANT_LEGAL_VIEW, pa, False),
        (w.fac_a, Permission.PARTICIPANT_VIEW, pb, False),
        (w.fac_a, Permission.MEASURE_VIEW, w.measure_a, False),
        (w.fac_a, Permission.SCHEDULE, None, False),
        (w.liaison_a, Permission.MEASURE_VIEW, w.measure_a, True),
        (w.liaison_a, Permission.MEASURE_EDIT, w.measure_a, False),
        (w.liaison_a, Permission.MEASURE_VIEW, w.measure_b, False),
        (w.liaison_a, Permission.PARTICIPANT_VIEW, pb, False),
        (w.liaison_a, Permission.SESSION_VIEW, w.course_a, False),
        (None, Permission.SESSION_VIEW, w.course_a, False),
    ]
    wrong = [
        (u and u.email, p, o, expected)
        for u, p, o, expected in expectations
        if can(u, p, o) != expected
    ]
    assert wrong == []


def test_inactive_users_can_do_nothing(two_sides):
    two_sides.admin.active = False
    assert not can(two_sides.admin, Permission.ADMIN)


def test_scoped_queries(two_sides):
    w = two_sides
    ids = lambda query: set(db.session.scalars(query).all())  # noqa: E731
    assert ids(visible(Course, w.fac_a)) == {w.course_a}
    assert ids(visible(Course, w.org_b)) == {w.course_b}
    assert ids(visible(Course, w.liaison_a)) == set()
    assert ids(visible(LegalMeasure, w.liaison_a)) == {w.measure_a}
    assert ids(visible(LegalMeasure, w.fac_a)) == set()
    assert ids(visible(LegalMeasure, w.admin)) == {w.measure_a, w.measure_b}


def test_objects_of_others_give_403(client, two_sides):
    w = two_sides
    course_b = f"/stages/{w.course_b.id}"
    person_b = f"/personnes/{w.measure_b.participant_id}"
    for user, url in [
        (w.fac_a, course_b),
        (w.fac_a, person_b),
        (w.org_a, course_b),
        (w.org_a, person_b),
        (w.liaison_a, person_b),
        (w.liaison_a, course_b),
    ]:
        login(client, user)
        response = client.get(url)
        assert response.status_code == 403, (user.role, url)
        html = response.get_data(as_text=True)
        assert "Accès refusé" in html
        assert w.measure_b.participant.surname not in html
        client.post("/deconnexion")


def test_ids_cannot_be_probed_for_existence(client, two_sides):
    login(client, two_sides.liaison_a)
    assert client.get("/personnes/999999").status_code == 403
    client.post("/deconnexion")
    login(client, two_sides.admin)
    assert client.get("/personnes/999999").status_code == 404


def test_own_objects_are_visible(client, two_sides):
    w = two_sides
    login(client, w.fac_a)
    html = client.get(f"/stages/{w.course_a.id}").get_data(as_text=True)
    assert w.measure_a.participant.surname.upper() in html
    assert w.measure_a.case_reference not in html  # facilitators see no legal data
    person = client.get(f"/personnes/{w.measure_a.participant_id}").get_data(as_text=True)
    assert w.measure_a.case_reference not in person
    client.post("/deconnexion")
    login(client, w.liaison_a)
    person = client.get(f"/personnes/{w.measure_a.participant_id}").get_data(as_text=True)
    assert w.measure_a.case_reference in person


def test_each_participant_page_view_writes_one_audit_entry(client, two_sides):
    w = two_sides
    login(client, w.liaison_a)
    for _ in range(2):
        assert client.get(f"/personnes/{w.measure_a.participant_id}").status_code == 200
    entries = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "participant.viewed")
    ).all()
    assert len(entries) == 2
    assert {(e.user_id, e.participant_id) for e in entries} == {
        (w.liaison_a.id, w.measure_a.participant_id)
    }


def test_liaison_home_lists_only_their_authority(client, two_sides):
    w = two_sides
    login(client, w.liaison_a)
    html = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert w.measure_a.case_reference in html
    assert w.measure_b.case_reference not in html
    assert db.session.scalar(
        sa.select(sa.func.count()).where(AuditEntry.action == "dashboard.viewed")
    ) == 1


def test_admin_pages_are_for_admins_only(client, two_sides):
    login(client, two_sides.org_a)
    assert client.get("/admin/comptes").status_code == 403
    client.post("/deconnexion")
    login(client, two_sides.admin)
    html = client.get("/admin/comptes").get_data(as_text=True)
    assert two_sides.liaison_a.email in html


def test_create_user_enforces_scope_kinds(make):
    from stages.auth.services import create_user
    from stages.errors import DomainError

    association = make.organization(OrganizationKind.ASSOCIATION)
    with pytest.raises(DomainError):
        create_user("l@x.test", "L", Role.LIAISON, "long enough password", [association])
    with pytest.raises(DomainError):
        create_user("f@x.test", "F", Role.FACILITATOR, "long enough password", [])


def test_statements_built_once_follow_a_change_of_organizations_or_role(client, two_sides):
    """The person's scope and measures are asked with statements built once per user
    (``built_per_user``): once the user's associations or role change, the next page
    answers for the new ones, never for the old."""
    w = two_sides
    pa, pb = w.measure_a.participant, w.measure_b.participant
    login(client, w.org_a)
    page = client.get(f"/personnes/{pa.id}")
    assert page.status_code == 200 and w.measure_a.case_reference in page.text
    assert client.get(f"/personnes/{pb.id}").status_code == 403

    w.org_a.organizations = [w.assoc_b]  # moved to the other association by an admin
    db.session.commit()
    assert client.get(f"/personnes/{pa.id}").status_code == 403
    page = client.get(f"/personnes/{pb.id}")
    assert page.status_code == 200 and w.measure_b.case_reference in page.text

    w.org_a.role, w.org_a.organizations = Role.FACILITATOR, [w.assoc_a]  # now runs course A
    w.course_a.facilitators.append(w.org_a)
    db.session.commit()
    page = client.get(f"/personnes/{pa.id}")
    assert page.status_code == 200 and w.measure_a.case_reference not in page.text  # names only
    assert client.get(f"/personnes/{pb.id}").status_code == 403
