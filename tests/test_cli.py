"""``flask stages ...`` commands."""
import sqlalchemy as sa

from stages.auth.models import Role, User
from stages.auth.services import authenticate
from stages.demo import DEMO_ACCOUNTS
from stages.enrollment.models import LegalFrame, LegalMeasure
from stages.extensions import db
from stages.models import Course, Enrollment, Participant, CourseStatus


def _counts():
    return tuple(
        db.session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in (User, Course, Participant, LegalMeasure, Enrollment)
    )


def test_demo_loads_realistic_data_idempotently(runner):
    result = runner.invoke(args=["stages", "demo"])
    assert result.exit_code == 0, result.output
    for email, *_ in DEMO_ACCOUNTS:
        assert email in result.output
    first = _counts()
    result = runner.invoke(args=["stages", "demo"])
    assert result.exit_code == 0
    assert "déjà présentes" in result.output
    assert _counts() == first

    courses = db.session.scalars(sa.select(Course)).all()
    assert 12 <= len(courses) <= 20
    frames = set(db.session.scalars(sa.select(LegalMeasure.frame)).all())
    assert frames == set(LegalFrame)
    for s in courses:
        enrolled = sum(1 for _ in s.parts)  # parts exist on every session
        assert 2 <= enrolled <= 4
        count = db.session.scalar(
            sa.select(sa.func.count()).where(Enrollment.course_id == s.id)
        )
        if s.status in (CourseStatus.DRAFT, CourseStatus.CANCELLED):
            assert count == 0
        else:
            assert 8 <= count <= 14
            assert s.seats_taken == count
            assert {o.short_name for o in s.organizations} == {"APCARS", "Fondation Scelles"}
    venues = {s.venue.name for s in courses}
    assert venues == {
        "Préfecture de la Région Île-de-France", "Maison de Justice et du Droit du 17e"
    }


def test_create_user_with_scope(runner):
    runner.invoke(args=["stages", "demo"])
    result = runner.invoke(
        args=[
            "stages", "create-user", "New.Liaison@Example.org", "--role", "liaison",
            "--scope", "Parquet de Paris", "--password", "a long enough password",
        ]
    )
    assert result.exit_code == 0, result.output
    user = authenticate("new.liaison@example.org", "a long enough password")
    assert user.role == Role.LIAISON
    assert [o.name for o in user.organizations] == ["Parquet de Paris"]


def test_create_user_generates_a_password_when_none_is_given(runner):
    runner.invoke(args=["stages", "demo"])
    result = runner.invoke(args=["stages", "create-user", "x@example.org", "--role", "admin"])
    assert result.exit_code == 0
    password = result.output.split("à la première connexion) : ")[1].strip()
    user = authenticate("x@example.org", password)
    assert user is not None and user.password_change_required is True
    given = runner.invoke(args=["stages", "create-user", "z@example.org", "--role", "admin",
                                "--password", "a long enough password"])
    assert given.exit_code == 0
    assert authenticate("z@example.org", "a long enough password").password_change_required is False


def test_create_user_errors_are_french(runner):
    runner.invoke(args=["stages", "demo"])
    result = runner.invoke(
        args=["stages", "create-user", "y@example.org", "--role", "liaison", "--scope", "Nulle part"]
    )
    assert result.exit_code != 0
    assert "Organisation inconnue" in result.output
    result = runner.invoke(
        args=["stages", "create-user", "y@example.org", "--role", "liaison", "--scope", "APCARS",
              "--password", "a long enough password"]
    )
    assert result.exit_code != 0
    assert "autorité prescriptrice" in result.output
    result = runner.invoke(
        args=["stages", "create-user", "admin@demo.stages.test", "--role", "admin",
              "--password", "a long enough password"]
    )
    assert "existe déjà" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).where(User.email == "y@example.org")) == 0
