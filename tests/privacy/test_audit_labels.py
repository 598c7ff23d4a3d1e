"""Every audit action and every kind of record has French words in the journal: the codes are
read from the source, so a new code without a label fails here."""
from __future__ import annotations

import ast
from datetime import date, datetime, time, timezone
from pathlib import Path

import pytest

from stages.auth.audit import ACTION_LABELS, OBJECT_TYPE_LABELS, RETIRED_ACTIONS, audit
from stages.auth.models import AuditEntry, Role
from stages.extensions import db
from tests.helpers import login, queries_for

STAGES = Path(__file__).resolve().parents[2] / "stages"
AUDIT_CALLS = {"audit", "audit_many", "_record"}


def audit_codes_in_source() -> dict[str, str]:
    """Each action code passed to the audit helpers anywhere in ``stages/`` (string literals in
    their arguments, defaults of lookups included) and dict values of ``*_ACTIONS`` tables."""
    codes: dict[str, str] = {}
    for path in STAGES.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            arguments = []
            if isinstance(node, ast.Call):
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                if name in AUDIT_CALLS:
                    arguments = node.args + [k.value for k in node.keywords if k.arg == "action"]
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id.endswith("_ACTIONS") for t in node.targets
            ):
                arguments = [node.value]
            for argument in arguments:
                for leaf in ast.walk(argument):
                    if (isinstance(leaf, ast.Constant) and isinstance(leaf.value, str)
                            and leaf.value.count(".") == 1 and " " not in leaf.value
                            and leaf.value.replace(".", "").replace("_", "").isalnum()
                            and leaf.value.islower()):
                        codes[leaf.value] = f"{path.relative_to(STAGES.parent)}:{leaf.lineno}"
    return codes


def test_every_action_code_written_has_a_french_label():
    codes = audit_codes_in_source()
    assert len(codes) > 40  # the reader finds them (it would pass vacuously otherwise)
    assert {"session.status_changed", "session.cancelled", "roster.viewed"} <= codes.keys()
    missing = {code: where for code, where in codes.items() if code not in ACTION_LABELS}
    assert not missing, f"audit codes without a label in stages/auth/audit.py: {missing}"
    unused = set(ACTION_LABELS) - codes.keys() - set(RETIRED_ACTIONS)
    assert not unused, f"labels of codes never written: {unused}"


def test_every_kind_of_record_has_a_french_name():
    types = {mapper.class_.__name__ for mapper in db.Model.registry.mappers}
    assert not types - OBJECT_TYPE_LABELS.keys(), types - OBJECT_TYPE_LABELS.keys()
    assert all(label and label[0].isupper() for label in OBJECT_TYPE_LABELS.values())


@pytest.fixture
def journal(make):
    admin = make.user(Role.ADMIN, full_name="Alice Admin")
    claire = make.user(Role.ORGANIZER, full_name="Claire Martin")
    course = make.course(day=date(2027, 3, 12), parts=((time(9, 30), time(12, 30)),))
    person = make.participant(surname="SECRET")
    audit("roster.viewed", course, user=claire)
    audit("user.role_changed", claire, user=admin)
    audit("participant.viewed", person, participant_id=person.id, user=claire)
    audit("attendance.recorded", course.parts[0], user=claire)
    db.session.commit()
    return admin, course


def test_the_journal_speaks_french_and_names_no_participant(client, journal):
    admin, course = journal
    login(client, admin)
    html = client.get("/admin/journal").get_data(as_text=True)
    body = html.split("<tbody>", 1)[1]
    for words in ("Consultation de la liste des présences", "Stage du 12 mars 2027",
                  "Compte de Claire Martin", "Changement de rôle d&#39;un compte",
                  "Demi-journée du 12 mars 2027 à", "Personne n° "):
        assert words in body, words
    for raw in ("roster.viewed", "Course n°", "User n°", "CoursePart", "SECRET"):
        assert raw not in body, raw


def test_the_journal_names_its_objects_with_a_constant_number_of_queries(client, make, journal):
    admin, _ = journal
    login(client, admin)
    few = queries_for(client, "/admin/journal")
    for day in range(1, 21):
        audit("roster.viewed", make.course(day=date(2027, 4, day)), user=admin)
        audit("user.created", make.user(Role.FACILITATOR), user=admin)
    db.session.commit()
    assert queries_for(client, "/admin/journal") == few


def test_a_deleted_record_keeps_a_readable_name(client, journal):
    admin, _ = journal
    db.session.add(
        AuditEntry(
            at=datetime(2027, 1, 5, tzinfo=timezone.utc), action="session.cancelled",
            object_type="Course", object_id=987654, user_id=admin.id,
        )
    )
    db.session.commit()
    login(client, admin)
    body = client.get("/admin/journal").get_data(as_text=True)
    assert "Annulation d&#39;un stage" in body and "Stage n° 987654" in body
