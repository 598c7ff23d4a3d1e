"""Realistic demo data: the Paris set-up of the seed text, a year of courses around today."""
from __future__ import annotations

import random
from datetime import date, time, timedelta

import sqlalchemy as sa

from stages.attendance.models import AttendanceMark, AttendanceStatus
from stages.auth.models import Role, User
from stages.auth.services import hash_password
from stages.enrollment.confirmation.models import ChangeReason, ReplyKind, SummonsReply
from stages.enrollment.models import (
    SEAT_HOLDING_STATUSES,
    AuthorityReporting,
    ReportFormat,
    Enrollment,
    EnrollmentEvent,
    EnrollmentStatus,
    DecisionProcedure,
    LegalFrame,
    LegalMeasure,
    MeasureStatus,
    Participant,
    Payer,
    PaymentStatus,
)
from stages.enrollment.frames import legal_deadline
from stages.enrollment.ledger.models import PaymentMethod
from stages.enrollment.ledger.services import open_accounts, record_payment
from stages.enrollment.services import search_key
from stages.extensions import db
from stages.scheduling.models import Course, CoursePart, CourseStatus, Venue
from stages.scheduling.programme.models import (
    BookingStatus,
    ProgrammeItem,
    ProgrammeModule,
    Speaker,
    SpeakerBooking,
    SpeakerKind,
)
from stages.scheduling.programme.services import apply_default_programme, default_modules
from stages.auth.models import Organization, OrganizationKind
from stages.timeutil import local_to_utc, now_utc, to_local, today_local

ORGANIZATIONS = [
    ("APCARS", "APCARS", OrganizationKind.ASSOCIATION, "4 boulevard du Palais, 75001 Paris"),
    ("Fondation Scelles", "Fondation Scelles", OrganizationKind.ASSOCIATION,
     "14 rue Mondétour, 75001 Paris"),
    ("Parquet de Paris", "Parquet de Paris", OrganizationKind.PARQUET,
     "Parvis du Tribunal de Paris, 75017 Paris"),
    ("Tribunal judiciaire de Paris", "TJ Paris", OrganizationKind.TRIBUNAL,
     "Parvis du Tribunal de Paris, 75017 Paris"),
    ("SPIP de Paris", "SPIP Paris", OrganizationKind.SPIP, "12-14 rue Charles Fourier, 75013 Paris"),
]

VENUES = [
    dict(
        name="Préfecture de la Région Île-de-France",
        address="5 rue Leblanc",
        postal_code="75015",
        city="Paris",
        room="Salle de formation, 3e étage",
        capacity=16,
        accessibility="Accès de plain-pied et ascenseur ; boucle magnétique sur demande.",
        step_free_access=True,
        hearing_loop=True,
        access_instructions=(
            "Métro Balard (ligne 8) ou tramway T3a. Présentez-vous à l'accueil avec votre "
            "convocation et une pièce d'identité ; contrôle de sécurité à l'entrée."
        ),
        opening_hours="Du lundi au vendredi, 8 h 30 – 18 h",
    ),
    dict(
        name="Maison de Justice et du Droit du 17e",
        address="16 rue Jacques Kellner",
        postal_code="75017",
        city="Paris",
        room="Salle polyvalente",
        capacity=14,
        accessibility="Rez-de-chaussée accessible aux fauteuils roulants.",
        step_free_access=True,
        access_instructions=(
            "Métro Porte de Saint-Ouen (ligne 13) ou Guy Môquet. Sonnez à l'interphone « MJD » "
            "et annoncez-vous comme participant au stage."
        ),
        opening_hours="Du lundi au vendredi, 9 h – 17 h 30",
    ),
]

# email, full name, role, password (demo only), scope (organization names)
DEMO_ACCOUNTS = [
    ("admin@demo.stages.test", "Claire Administratrice", Role.ADMIN, "demo-admin-2026", []),
    ("organisation@demo.stages.test", "Nadia Benali", Role.ORGANIZER, "demo-orga-2026",
     ["APCARS"]),
    ("intervenant@demo.stages.test", "Julien Morel", Role.FACILITATOR, "demo-interv-2026",
     ["APCARS"]),
    ("referent@demo.stages.test", "Sophie Garnier", Role.LIAISON, "demo-parquet-2026",
     ["Parquet de Paris"]),
]
# Facilitators without a printed login, so that every course has one of each association.
EXTRA_FACILITATORS = [
    ("l.fabre@demo.stages.test", "Léa Fabre", ["Fondation Scelles"]),
    ("m.diallo@demo.stages.test", "Moussa Diallo", ["APCARS"]),
    ("a.roux@demo.stages.test", "Anne Roux", ["Fondation Scelles"]),
]

SURNAMES = (
    "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent Lefebvre "
    "Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard Andre Lefevre Mercier Dupont "
    "Lambert Bonnet Francois Martinez Legrand Garnier Faure Rousseau Blanc Guerin Muller Henry "
    "Roussel Nicolas Perrin Morin Mathieu Clement Gauthier Dumont Lopez Fontaine Chevalier Robin "
    "Masson Sanchez Gerard Nguyen Boyer Denis Lemaire Duval Joly Gautier Roger Roche Roy Noel "
    "Meyer Lucas Meunier Jean Perez Marchand Dufour Blanchard Marie Barbier Brun Dumas Brunet "
    "Schmitt Leroux Colin Fernandez Pierre Renard Arnaud Rolland Caron Aubert Giraud Leclerc "
    "Vidal Bourgeois Renaud Lemoine Picard Gaillard Philippe Leclercq Lacroix Fabre Dupuis"
).split()
FIRST_NAMES = (
    "Jean Pierre Michel Philippe Alain Nicolas Christophe Patrick Christian Daniel Laurent "
    "Frédéric Éric Stéphane David Olivier Sébastien Thierry Pascal Julien Thomas Bruno Mohamed "
    "Karim Antoine Vincent Franck Jérôme Romain Guillaume Mathieu Maxime Alexandre Kevin Yann "
    "Hugo Lucas Paul Rachid Samir Didier Marc Gilles Hervé Yves Benoît Arnaud Cédric Fabrice"
).split()
BIRTH_PLACES = (
    "Paris", "Lyon", "Marseille", "Lille", "Toulouse", "Bordeaux", "Nantes", "Saint-Denis",
    "Créteil", "Versailles", "Montreuil", "Argenteuil", "Boulogne-Billancourt", "Rouen", "Alger",
    "Casablanca", "Tunis", "Bamako", "Lisbonne", "Bucarest",
)
STREETS = (
    "rue de la République", "avenue Jean Jaurès", "rue Victor Hugo", "boulevard Voltaire",
    "rue du Faubourg Saint-Antoine", "avenue de Clichy", "rue de Belleville", "rue Oberkampf",
    "avenue d'Italie", "rue de Vaugirard", "rue Lecourbe", "boulevard de Ménilmontant",
)
FEES = (0, 6500, 9000, 12000, 15000, 18000)
MORNING = (time(9, 30), time(12, 30))
AFTERNOON = (time(13, 30), time(16, 30))


def load_demo(seed: int = 2026) -> bool:
    """Create the demo organizations, venues, accounts and a year of courses; False if present."""
    rng = random.Random(seed)
    orgs = {name: _get_or_create_org(name, short, kind, addr) for name, short, kind, addr in ORGANIZATIONS}
    venues = [_get_or_create_venue(data) for data in VENUES]
    accounts = {
        email: _get_or_create_user(email, name, role, password, [orgs[o] for o in scope])
        for email, name, role, password, scope in DEMO_ACCOUNTS
    }
    for email, name, scope in EXTRA_FACILITATORS:
        accounts[email] = _get_or_create_user(
            email, name, Role.FACILITATOR, "demo-interv-2026", [orgs[o] for o in scope]
        )
    db.session.flush()
    already = db.session.scalar(
        sa.select(sa.func.count(Course.id)).where(
            Course.venue_id.in_([v.id for v in venues])
        )
    )
    if already:
        return False
    apcars = [accounts["intervenant@demo.stages.test"], accounts["m.diallo@demo.stages.test"]]
    scelles = [accounts["l.fabre@demo.stages.test"], accounts["a.roux@demo.stages.test"]]
    organizer = accounts["organisation@demo.stages.test"]
    _create_courses(rng, orgs, venues, apcars, scelles, organizer)
    _create_waiting_referrals(rng, orgs, count=18)
    _issue_certificates_and_bilans(organizer)
    _reply_to_summonses()
    _reporting_addresses(orgs)
    _evaluate_courses(rng, [orgs[name] for name, _s, kind, _a in ORGANIZATIONS if kind == OrganizationKind.ASSOCIATION],
                      accounts["intervenant@demo.stages.test"])
    _open_fee_accounts(organizer)
    _draft_non_execution_reports()
    return True


def _draft_non_execution_reports() -> None:
    """The reports the morning job would draft: the waiting referrals whose deadline passed."""
    from stages.reports.non_execution import draft_reports

    draft_reports(today_local())


def _reporting_addresses(orgs) -> None:
    """The authorities' mailboxes for the bilans (« Transmettre »), in the demo's domain."""
    for name, box, report_format in (("Parquet de Paris", "bilans.parquet", ReportFormat.BOTH),
                                     ("Tribunal judiciaire de Paris", "greffe.tj", ReportFormat.PDF),
                                     ("SPIP de Paris", "spip", ReportFormat.PDF)):
        db.session.add(AuthorityReporting(organization_id=orgs[name].id, report_email=f"{box}@demo.stages.test",
                                          report_format=report_format, acknowledgment_days=10))


def _evaluate_courses(rng, associations, facilitator: User) -> None:
    """Each association's default questionnaires; the people present at the past courses
    answered them (anonymously: a response per person and moment, and the marker apart); an
    incident on the last held course's first half-day."""
    from stages.attendance.models import HalfDayIncident, IncidentKind
    from stages.evaluation.models import (
        EvaluationAnswer, EvaluationMarker, EvaluationResponse, ItemKind, Moment,
    )
    from stages.evaluation.questionnaires import course_association, ensure_questionnaire

    for association in associations:
        for moment in Moment:
            ensure_questionnaire(association.id, moment)
    past = db.session.scalars(
        sa.select(Course).where(Course.status.in_((CourseStatus.CLOSED, CourseStatus.HELD))).order_by(Course.starts_at)
    ).all()
    texts = ["Mieux comprendre la loi.", "Les témoignages m'ont marqué.", "Plus de temps pour les questions.",
             "Je ne savais pas ce que vivent les personnes prostituées."]
    for course in past:
        association = course_association(course)
        present = db.session.scalars(sa.select(Enrollment).where(
            Enrollment.course_id == course.id,
            Enrollment.status.in_((EnrollmentStatus.ATTENDED, EnrollmentStatus.PARTLY_ATTENDED)))).all()
        for moment in Moment:
            questionnaire = ensure_questionnaire(association.id, moment)
            for enrollment in present:
                db.session.add(EvaluationMarker(enrollment_id=enrollment.id, moment=moment))
                response = EvaluationResponse(course_id=course.id, questionnaire_id=questionnaire.id)
                db.session.add(response)
                db.session.flush()
                for item in questionnaire.items:
                    if item.kind == ItemKind.LIKERT:
                        value = min(5, rng.randint(1, 4) + (1 if moment == Moment.AFTER else 0))
                        db.session.add(EvaluationAnswer(response_id=response.id, item_id=item.id, value=value))
                    elif rng.random() < 0.5:
                        db.session.add(EvaluationAnswer(response_id=response.id, item_id=item.id, text=rng.choice(texts)))
    if past:
        part = past[-1].parts[0]
        db.session.add(HalfDayIncident(
            part_id=part.id, occurred_at=part.starts_at + timedelta(minutes=50), kind=IncidentKind.INTERRUPTION,
            text="Alarme incendie : séance interrompue vingt minutes.", recorded_by_id=facilitator.id,
        ))
    db.session.flush()


def _open_fee_accounts(organizer: User) -> None:
    """Every demo fee in the ledger; the people of the courses already closed have paid (by
    cheque, each with its numbered receipt), in the order of their courses."""
    db.session.flush()
    measures = list(db.session.scalars(sa.select(LegalMeasure).order_by(LegalMeasure.id)))
    open_accounts(measures, by=organizer)
    closed = db.session.scalars(
        sa.select(LegalMeasure).join(Enrollment, Enrollment.measure_id == LegalMeasure.id)
        .join(Course, Course.id == Enrollment.course_id)
        .where(Course.status == CourseStatus.CLOSED, LegalMeasure.fee_cents > 0,
               LegalMeasure.payment_status == PaymentStatus.DUE, LegalMeasure.payer == Payer.PARTICIPANT)
        .order_by(Course.starts_at, LegalMeasure.id)
    ).all()
    for measure in closed:
        course_day = min(to_local(e.course.starts_at).date() for e in measure.enrollments)
        record_payment(measure, measure.fee_cents, PaymentMethod.CHEQUE, course_day, by=organizer)


def _reply_to_summonses() -> None:
    """In the next course, one person confirmed on their confirmation page and another asked for
    another date: the organizers' home page lists both (no random draw: the rest stays as it was)."""
    course = db.session.scalar(
        sa.select(Course).where(Course.status == CourseStatus.SCHEDULED, Course.starts_at > now_utc())
        .order_by(Course.starts_at)
    )
    if course is None:
        return
    enrollments = db.session.scalars(
        sa.select(Enrollment).where(Enrollment.course_id == course.id).order_by(Enrollment.id)
    ).all()
    confirmed = next((e for e in enrollments if e.status == EnrollmentStatus.CONFIRMED), None)
    summoned = next((e for e in enrollments if e.status == EnrollmentStatus.SUMMONED), None)
    if confirmed is not None:
        db.session.add(SummonsReply(enrollment_id=confirmed.id, course_id=course.id, kind=ReplyKind.CONFIRMED))
    if summoned is not None:
        db.session.add(SummonsReply(
            enrollment_id=summoned.id, course_id=course.id, kind=ReplyKind.OTHER_DATE,
            reason=ChangeReason.WORK,
        ))
    db.session.flush()


def _get_or_create_org(name, short, kind, address) -> Organization:
    org = db.session.scalar(sa.select(Organization).where(Organization.name == name))
    if org is None:
        org = Organization(name=name, short_name=short, kind=kind, address=address)
        db.session.add(org)
    return org


def _get_or_create_venue(data) -> Venue:
    venue = db.session.scalar(sa.select(Venue).where(Venue.name == data["name"]))
    if venue is None:
        venue = Venue(**data)
        db.session.add(venue)
    return venue


def _get_or_create_user(email, name, role, password, organizations) -> User:
    user = db.session.scalar(sa.select(User).where(User.email == email))
    if user is None:
        user = User(
            email=email,
            full_name=name,
            role=role,
            password_hash=hash_password(password),
            organizations=organizations,
        )
        db.session.add(user)
    return user


def _course_dates(today: date) -> list[date]:
    """About every three weeks, on Thursdays, from six months ago to six months ahead."""
    start = today - timedelta(days=182)
    start += timedelta(days=(3 - start.weekday()) % 7)  # next Thursday
    return [start + timedelta(weeks=3 * i) for i in range(18)]


def _demo_speakers(association: Organization) -> tuple[Speaker, ProgrammeModule]:
    """Two outside speakers of APCARS (fictional) and the testimony module of its catalogue."""
    survivor = Speaker(organization=association, full_name="Nadia Benali", kind=SpeakerKind.SURVIVOR,
                       email="nadia.benali@example.org", phone="+33612345678", fee_cents=15000,
                       notes="Témoigne l'après-midi ; prévenir deux semaines avant.")
    doctor = Speaker(organization=association, full_name="Dr Paul Girard", kind=SpeakerKind.DOCTOR,
                     email="p.girard@example.org")
    db.session.add_all([survivor, doctor])
    db.session.flush()
    testimony = db.session.scalar(sa.select(ProgrammeModule).where(
        ProgrammeModule.organization_id == association.id, ProgrammeModule.default_position.is_(None)))
    return survivor, testimony


def _create_courses(rng, orgs, venues, apcars, scelles, organizer) -> None:
    today = today_local()
    db.session.flush()  # the associations' default catalogues
    modules = default_modules(orgs["APCARS"])
    survivor, testimony = _demo_speakers(orgs["APCARS"])
    for index, day in enumerate(_course_dates(today)):
        venue = venues[index % 2]
        two_days = index % 4 == 3
        days = [day, day + timedelta(days=1)] if two_days else [day]
        parts = [
            CoursePart(starts_at=local_to_utc(d, start), ends_at=local_to_utc(d, end))
            for d in days
            for start, end in (MORNING, AFTERNOON)
        ]
        if day < today - timedelta(days=14):
            status = CourseStatus.CLOSED
        elif day < today:
            status = CourseStatus.HELD
        elif index == 17:
            status = CourseStatus.DRAFT
        else:
            status = CourseStatus.SCHEDULED
        course = Course(
            title="Stage de sensibilisation à la lutte contre l'achat d'actes sexuels",
            venue=venue,
            status=status,
            capacity=venue.capacity,
            min_participants=5,
            fee_cents=18000,
            parts=parts,
            starts_at=parts[0].starts_at,
            ends_at=parts[-1].ends_at,
            organizations=[orgs["APCARS"], orgs["Fondation Scelles"]],
            facilitators=[apcars[index % 2], scelles[index % 2]],
            created_by_id=organizer.id,
        )
        if index == 12:
            course.status = CourseStatus.CANCELLED
            course.cancel_reason = "Salle indisponible (réquisition de la préfecture)."
        apply_default_programme(course, modules)
        if testimony is not None and course.status != CourseStatus.DRAFT:
            afternoon = parts[1]
            item = ProgrammeItem(module=testimony, position=len(afternoon.programme), start_time=time(15, 0),
                                 end_time=time(16, 0))
            afternoon.programme.append(item)
            item.booking = SpeakerBooking(speaker=survivor, status=(
                BookingStatus.CONFIRMED if day < today + timedelta(days=30) else BookingStatus.REQUESTED),
                starts_at=local_to_utc(day, time(15, 0)), ends_at=local_to_utc(day, time(16, 0)))
        db.session.add(course)
        db.session.flush()
        if course.status in (CourseStatus.DRAFT, CourseStatus.CANCELLED):
            continue
        for _ in range(rng.randint(8, min(14, course.capacity))):
            measure = _new_measure(rng, orgs, decided_before=day)
            _enroll(rng, course, measure, organizer)


def _new_participant(rng) -> Participant:
    surname = rng.choice(SURNAMES)
    first = rng.choice(FIRST_NAMES)
    birth = date(rng.randint(1955, 2004), rng.randint(1, 12), rng.randint(1, 28))
    participant = Participant(
        surname=surname.upper(),
        first_names=first,
        birth_date=birth,
        birth_place=rng.choice(BIRTH_PLACES),
        address=f"{rng.randint(1, 180)} {rng.choice(STREETS)}",
        postal_code=f"750{rng.randint(1, 20):02d}",
        city="Paris",
        phone=f"+336{rng.randint(10, 99)}{rng.randint(10, 99)}{rng.randint(10, 99)}{rng.randint(10, 99)}",  # E.164
        email=f"{search_key(first, '')}.{search_key(surname, '')}{rng.randint(1, 99)}@example.org",
        search_key=search_key(surname, first),
        **_demo_needs(surname, first, birth),
    )
    db.session.add(participant)
    return participant


def _demo_needs(surname: str, first: str, birth: date) -> dict:
    """A language and needs for some demo people, derived from their identity (the random
    sequence, and so the rest of the demo data, stays as it was)."""
    pick = (sum(map(ord, surname + first)) + birth.toordinal()) % 32
    return {
        0: dict(language="ar", interpreter_needed=True),
        1: dict(language="ro", interpreter_needed=True),
        2: dict(language="es"),
        3: dict(language="pt"),
        4: dict(needs_reduced_mobility=True),
        5: dict(needs_hearing=True),
        6: dict(language="en", needs_sight=True),
    }.get(pick, {})


def _new_measure(rng, orgs, decided_before: date) -> LegalMeasure:
    frame = rng.choice(list(LegalFrame))
    authority = (
        orgs["SPIP de Paris"]
        if frame in (LegalFrame.PEINE_STAGE, LegalFrame.SURSIS_PROBATOIRE)
        else orgs["Parquet de Paris"]
    )
    decision = decided_before - timedelta(days=rng.randint(20, 120))
    facts = decision - timedelta(days=rng.randint(15, 90))
    final = decision + timedelta(days=10) if frame != LegalFrame.ALTERNATIVE_POURSUITES else None
    fee = rng.choice(FEES)
    measure = LegalMeasure(
        participant=_new_participant(rng),
        frame=frame,
        authority=authority,
        handling_organization=orgs["APCARS"],
        case_reference=f"{decision.year % 100:02d}{rng.randint(100, 365):03d}{rng.randint(0, 999999):06d}",
        facts_date=facts,
        decision_date=decision,
        final_date=final,
        deadline=legal_deadline(frame, decision, final) or decision + timedelta(days=180),
        # No random draw here: the demo data stays what it was before these fields.
        procedure=DecisionProcedure.ORDONNANCE_PENALE if frame == LegalFrame.STAGE_CONTRAVENTION else None,
        penalty_set_in_advance=False if frame == LegalFrame.PEINE_STAGE else None,
        fee_cents=fee,
        payment_status=PaymentStatus.WAIVED if fee == 0 else PaymentStatus.DUE,
        certificate_recipient=authority.name,
    )
    db.session.add(measure)
    return measure


def _enroll(rng, course: Course, measure: LegalMeasure, organizer: User) -> None:
    past = course.status in (CourseStatus.HELD, CourseStatus.CLOSED)
    if past:
        status = rng.choices(
            [
                EnrollmentStatus.ATTENDED,
                EnrollmentStatus.PARTLY_ATTENDED,
                EnrollmentStatus.ABSENT_EXCUSED,
                EnrollmentStatus.ABSENT_UNEXCUSED,
            ],
            weights=[80, 6, 8, 6],
        )[0]
    else:
        status = rng.choice([EnrollmentStatus.SUMMONED, EnrollmentStatus.CONFIRMED])
    enrollment = Enrollment(
        measure=measure,
        course=course,
        status=status,
        created_by_id=organizer.id,
        convocation_sent_at=now_utc() if not past else course.starts_at - timedelta(days=30),
    )
    db.session.add(enrollment)
    db.session.add(
        EnrollmentEvent(
            enrollment=enrollment, user_id=organizer.id, from_status=None, to_status=status.value,
            note="Données de démonstration",
        )
    )
    measure.status = MeasureStatus(status.value)
    if status in SEAT_HOLDING_STATUSES:
        course.seats_taken += 1
    if past:
        _mark_attendance(rng, enrollment, course, status, organizer)


def _mark_attendance(rng, enrollment, course, status, organizer) -> None:
    parts = course.parts
    if status == EnrollmentStatus.ATTENDED:
        marks = [
            AttendanceStatus.LATE if rng.random() < 0.08 else AttendanceStatus.PRESENT
            for _ in parts
        ]
    elif status == EnrollmentStatus.PARTLY_ATTENDED:
        marks = [AttendanceStatus.PRESENT] * (len(parts) - 1) + [AttendanceStatus.ABSENT]
    elif status == EnrollmentStatus.ABSENT_EXCUSED:
        marks = [AttendanceStatus.EXCUSED] * len(parts)
    else:
        marks = [AttendanceStatus.ABSENT] * len(parts)
    for part, mark in zip(parts, marks):
        arrived = part.starts_at + timedelta(minutes=rng.randint(10, 25)) if mark == AttendanceStatus.LATE else None
        db.session.add(
            AttendanceMark(
                enrollment=enrollment, part=part, status=mark, arrived_at=arrived,
                updated_by_id=organizer.id,
            )
        )


def _issue_certificates_and_bilans(organizer: User) -> None:
    """Closed courses get their attestations; those closed over a month ago, their bilans."""
    from stages.certificates.issuing import issue_for_course
    from stages.reports.bilans import bilan_authorities, mark_bilan_sent

    db.session.flush()
    closed = db.session.scalars(
        sa.select(Course)
        .where(Course.status == CourseStatus.CLOSED)
        .order_by(Course.starts_at)
    ).all()
    for course in closed:
        issue_for_course(course, by=organizer)
        if course.ends_at < now_utc() - timedelta(days=30):
            for authority in bilan_authorities(course):
                mark_bilan_sent(course, authority.authority_id, by=organizer)


def _create_waiting_referrals(rng, orgs, count: int) -> None:
    """Measures received but not yet enrolled, some with a deadline close or passed."""
    today = today_local()
    for i in range(count):
        measure = _new_measure(rng, orgs, decided_before=today - timedelta(days=rng.randint(0, 150)))
        if i % 6 == 0:
            measure.deadline = today + timedelta(days=rng.randint(5, 25))
        if i % 9 == 0:
            measure.deadline = max(measure.decision_date, today - timedelta(days=rng.randint(1, 10)))
