"""An answer cannot be linked back to a person: proved on the migrated schema, not on the code.

* No column of a response or an answer names a person, an enrollment, a user or a moment in
  time; no foreign key path leads from them to a person's table; no table but the answers
  points at a response (no linking table can exist).
* The « has answered » marker is (enrollment, moment) and nothing else: no id, no time, no
  column in common with the response.
* Ids do not give the insertion order: random UUIDs, and on SQLite no hidden rowid.
* Marker and response are written in one transaction: a refused answer leaves neither.
"""
from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
import time_machine

from stages.errors import DomainError
from stages.evaluation import answering
from stages.evaluation.models import EvaluationMarker, EvaluationResponse, Moment
from stages.extensions import db
from tests.evaluation.helpers import MORNING, course_with_people, form_for, questionnaire_of

ANSWER_TABLES = ("evaluation_responses", "evaluation_answers")
PERSON_TABLES = {"enrollments", "participants", "legal_measures", "evaluation_markers", "evaluation_links",
                 "summons_links", "summons_replies", "attendance_marks", "attendance_signatures"}


def _foreign_keys(inspector) -> dict[str, set[str]]:
    return {table: {fk["referred_table"] for fk in inspector.get_foreign_keys(table)}
            for table in inspector.get_table_names()}


def test_no_foreign_key_path_leads_from_an_answer_to_a_person():
    inspector = sa.inspect(db.engine)
    graph = _foreign_keys(inspector)
    reached, todo = set(), list(ANSWER_TABLES)
    while todo:
        table = todo.pop()
        for target in graph.get(table, ()):
            if target not in reached:
                reached.add(target)
                todo.append(target)
    assert reached & PERSON_TABLES == set()
    assert {"course_sessions", "evaluation_questionnaires"} <= reached  # the walk does find its way
    # Nothing points at a response but its own answers: no table may join a response to anyone.
    pointing = {table for table, targets in graph.items() if "evaluation_responses" in targets}
    assert pointing == {"evaluation_answers"}


def test_no_column_of_an_answer_names_a_person_or_a_time():
    inspector = sa.inspect(db.engine)
    for table in ANSWER_TABLES:
        columns = {c["name"]: c for c in inspector.get_columns(table)}
        assert not {name for name in columns if any(w in name for w in (
            "enrollment", "participant", "person", "user", "measure", "_by", "ip", "agent", "link"))}, table
        timed = [name for name, c in columns.items()
                 if isinstance(c["type"], (sa.DateTime, sa.Date, sa.Time)) or name.endswith(("_at", "_on"))]
        assert timed == [], table
    assert set(c["name"] for c in inspector.get_columns("evaluation_responses")) == {"id", "course_id", "questionnaire_id"}


def test_the_marker_says_who_answered_and_nothing_else():
    inspector = sa.inspect(db.engine)
    columns = {c["name"] for c in inspector.get_columns("evaluation_markers")}
    assert columns == {"enrollment_id", "moment"}
    assert inspector.get_pk_constraint("evaluation_markers")["constrained_columns"] == ["enrollment_id", "moment"]
    assert columns & {c["name"] for c in inspector.get_columns("evaluation_responses")} == set()
    assert {fk["referred_table"] for fk in inspector.get_foreign_keys("evaluation_markers")} == {"enrollments"}


def test_ids_do_not_give_the_order_of_the_answers(make):
    course, people, _organizer, _facilitator = course_with_people(make, people=6)
    questionnaire = questionnaire_of(course)
    with time_machine.travel(MORNING, tick=False):
        for enrollment in people:
            answering.record_response(course, enrollment, questionnaire, answering.read_answers(
                questionnaire, form_for(questionnaire)))
    db.session.commit()
    ids = db.session.scalars(sa.select(EvaluationResponse.id)).all()
    assert all(uuid.UUID(i).version == 4 for i in ids)
    if db.engine.dialect.name == "sqlite":
        for table in ("evaluation_responses", "evaluation_answers", "evaluation_markers"):
            ddl = db.session.scalar(sa.text("SELECT sql FROM sqlite_master WHERE name = :t"), {"t": table})
            assert "WITHOUT ROWID" in ddl, table
        # Stored in key order: reading without ORDER BY gives the UUIDs sorted, not as inserted.
        stored = db.session.scalars(sa.text("SELECT id FROM evaluation_responses")).all()
        assert stored == sorted(stored)


def test_a_refused_answer_leaves_neither_marker_nor_response(make):
    course, (enrollment, *_), _organizer, _facilitator = course_with_people(make)
    questionnaire = questionnaire_of(course)
    db.session.commit()
    with time_machine.travel(MORNING, tick=False):
        answers = answering.read_answers(questionnaire, form_for(questionnaire))
        answers[10**9] = 3  # an item that does not exist: the answer's foreign key refuses it
        with pytest.raises(sa.exc.IntegrityError):
            answering.record_response(course, enrollment, questionnaire, answers)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EvaluationMarker)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EvaluationResponse)) == 0


def test_the_database_refuses_a_second_marker(make):
    course, (enrollment, *_), _organizer, _facilitator = course_with_people(make)
    db.session.add(EvaluationMarker(enrollment_id=enrollment.id, moment=Moment.BEFORE))
    db.session.commit()
    db.session.add(EvaluationMarker(enrollment_id=enrollment.id, moment=Moment.BEFORE))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()
    with time_machine.travel(MORNING, tick=False), pytest.raises(DomainError):
        questionnaire = questionnaire_of(course)
        answering.record_response(course, enrollment, questionnaire, answering.read_answers(
            questionnaire, form_for(questionnaire)))
