"""The liaison dashboard: scope, situations, deadlines, filters, search, audit, query count."""
from types import SimpleNamespace
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from stages.auth.models import AuditEntry, Role
from stages.enrollment.models import LegalFrame, MeasureStatus
from stages.extensions import db
from stages.reports import dashboard
from stages.reports.dashboard import Bucket, DashboardFilters
from tests.helpers import login, queries_for, search

# Thursday 12 March 2026, 11:00 in Paris.
NOW = datetime(2026, 3, 12, 10, 0, tzinfo=timezone.utc)
TODAY = date(2026, 3, 12)


@pytest.fixture
def two_parquets(make):
    """Two parquets, a liaison of each, an association and its organizer, measures on each side."""
    w = SimpleNamespace()
    w.assoc = make.organization()
    w.parquet_a = make.authority("Parquet de Paris")
    w.parquet_b = make.authority("Parquet de Bobigny")
    w.liaison_a = make.user(Role.LIAISON, [w.parquet_a])
    w.liaison_b = make.user(Role.LIAISON, [w.parquet_b])
    w.organizer = make.user(Role.ORGANIZER, [w.assoc])
    w.facilitator = make.user(Role.FACILITATOR, [w.assoc])
    w.admin = make.user(Role.ADMIN)
    w.a_measures = [
        make.measure(make.participant("ALPHA", "Anne"), w.parquet_a, w.assoc, case_reference="A-001"),
        make.measure(make.participant("ALPHONSE", "Marc"), w.parquet_a, w.assoc, case_reference="A-002"),
    ]
    w.b_measures = [
        make.measure(make.participant("BRAVO", "Bernard"), w.parquet_b, w.assoc, case_reference="B-001"),
        make.measure(make.participant("BRAVISSIMO", "Lucie"), w.parquet_b, w.assoc, case_reference="B-002"),
    ]
    db.session.commit()
    return w


def test_liaison_sees_only_their_authority(client, two_parquets):
    login(client, two_parquets.liaison_a)
    html = client.get("/tableau-de-bord").get_data(as_text=True)
    assert "ALPHA Anne" in html and "ALPHONSE Marc" in html and "A-001" in html
    assert "BRAVO" not in html and "BRAVISSIMO" not in html and "B-00" not in html
    assert "Bobigny" not in html


def test_liaison_guessing_another_authority_gets_403(client, two_parquets):
    login(client, two_parquets.liaison_a)
    assert client.get(f"/tableau-de-bord?autorite={two_parquets.parquet_b.id}").status_code == 403
    assert client.get("/tableau-de-bord?autorite=999999").status_code == 403
    other = two_parquets.b_measures[0].participant_id
    assert client.get(f"/personnes/{other}").status_code == 403
    # Searching another jurisdiction's case reference finds nothing.
    html = client.get(search(client, "/tableau-de-bord", "B-001")).get_data(as_text=True)
    assert "BRAVO" not in html and "Aucune mesure ne correspond" in html


def test_facilitators_have_no_dashboard(client, two_parquets):
    login(client, two_parquets.facilitator)
    assert client.get("/tableau-de-bord").status_code == 403
    assert client.get("/tableau-de-bord/export.csv").status_code == 403


def test_anonymous_is_sent_to_login(client, two_parquets):
    response = client.get("/tableau-de-bord")
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]


def test_organizer_and_admin_see_their_scope(client, make, two_parquets):
    other_assoc = make.organization()
    make.measure(make.participant("CHARLIE", "Zoé"), two_parquets.parquet_a, other_assoc)
    db.session.commit()
    login(client, two_parquets.organizer)
    html = client.get("/tableau-de-bord").get_data(as_text=True)
    assert "ALPHA Anne" in html and "BRAVO Bernard" in html and "CHARLIE" not in html
    client.post("/deconnexion")
    login(client, two_parquets.admin)
    assert "CHARLIE" in client.get("/tableau-de-bord").get_data(as_text=True)


def test_links_to_the_participant_history(client, two_parquets):
    login(client, two_parquets.liaison_a)
    html = client.get("/tableau-de-bord").get_data(as_text=True)
    person = two_parquets.a_measures[0].participant_id
    assert f'href="/personnes/{person}"' in html
    assert client.get(f"/personnes/{person}").status_code == 200


@pytest.fixture
def deadlines(make):
    """Measures of one parquet around the frozen day, named after what they should show."""
    with time_machine.travel(NOW, tick=False):
        parquet = make.authority()
        liaison = make.user(Role.LIAISON, [parquet])

        def add(surname, status, deadline):
            return make.measure(
                make.participant(surname), parquet, status=status,
                decision_date=date(2025, 9, 1), deadline=deadline,
            )

        add("PASSEE", MeasureStatus.REFERRED, date(2026, 3, 11))
        add("PASSEEEXCUSE", MeasureStatus.ABSENT_EXCUSED, date(2026, 1, 5))
        add("AUJOURDHUI", MeasureStatus.SUMMONED, TODAY)
        add("VINGTNEUF", MeasureStatus.ENROLLED, TODAY + timedelta(days=29))
        add("TRENTE", MeasureStatus.CONFIRMED, TODAY + timedelta(days=30))
        add("EFFECTUE", MeasureStatus.ATTENDED, date(2026, 2, 1))  # done: the deadline no longer matters
        add("ATTESTE", MeasureStatus.CERTIFICATE_ISSUED, date(2026, 2, 1))
        add("PARTIEL", MeasureStatus.PARTLY_ATTENDED, date(2026, 6, 1))
        add("NONEXCUSE", MeasureStatus.ABSENT_UNEXCUSED, date(2026, 6, 1))
        add("TRANSMIS", MeasureStatus.REPORTED, date(2026, 6, 1))
        add("RENVOYE", MeasureStatus.WITHDRAWN, date(2026, 6, 1))
        db.session.commit()
    return liaison


def test_bucket_counts_against_today_in_paris(deadlines):
    with time_machine.travel(NOW, tick=False):
        counts = dashboard.bucket_counts(deadlines, DashboardFilters(), TODAY)
    assert counts == {
        Bucket.TO_SUMMON: 2,  # PASSEE, VINGTNEUF
        Bucket.SUMMONED: 2,  # AUJOURDHUI, TRENTE
        Bucket.ATTENDED: 1,
        Bucket.ABSENT: 3,  # PASSEEEXCUSE, PARTIEL, NONEXCUSE
        Bucket.CERTIFICATE: 1,
        Bucket.REPORTED: 1,
        Bucket.WITHDRAWN: 1,
        Bucket.DEADLINE_PASSED: 2,  # PASSEE, PASSEEEXCUSE (not EFFECTUE nor ATTESTE)
        Bucket.DEADLINE_SOON: 2,  # AUJOURDHUI (day 0), VINGTNEUF (day 29); TRENTE is day 30
    }
    assert dashboard.total_of(counts, None) == 11


@pytest.mark.parametrize(
    "bucket, expected",
    [
        ("echeance-depassee", {"PASSEE", "PASSEEEXCUSE"}),
        ("echeance-30-jours", {"AUJOURDHUI", "VINGTNEUF"}),
        ("a-convoquer", {"PASSEE", "VINGTNEUF"}),
        ("convoque", {"AUJOURDHUI", "TRENTE"}),
        ("effectue", {"EFFECTUE"}),
        ("absent", {"PASSEEEXCUSE", "PARTIEL", "NONEXCUSE"}),
        ("attestation", {"ATTESTE"}),
    ],
)
def test_bucket_filter_lists_exactly_its_measures(client, deadlines, bucket, expected):
    everyone = {"PASSEE", "PASSEEEXCUSE", "AUJOURDHUI", "VINGTNEUF", "TRENTE", "EFFECTUE",
                "ATTESTE", "PARTIEL", "NONEXCUSE", "TRANSMIS", "RENVOYE"}
    with time_machine.travel(NOW, tick=False):
        login(client, deadlines)
        html = client.get(f"/tableau-de-bord?statut={bucket}").get_data(as_text=True)
    shown = {name for name in everyone if f">{name} Jean<" in html}
    assert shown == expected
    assert f"{len(expected)} résultat" in html


def test_deadline_badges_follow_the_clock(client, deadlines):
    with time_machine.travel(NOW, tick=False):
        login(client, deadlines)
        html = client.get(search(client, "/tableau-de-bord", "vingtneuf")).get_data(as_text=True)
    assert "Échéance dans moins de 30 jours" in html
    # A day later than its deadline, the same measure is overdue.
    with time_machine.travel(datetime(2026, 4, 11, 10, 0, tzinfo=timezone.utc), tick=False):
        login(client, deadlines)
        html = client.get(search(client, "/tableau-de-bord", "vingtneuf")).get_data(as_text=True)
    row = html[html.index("VINGTNEUF Jean"):]
    assert "Échéance dépassée" in row[: row.index("</tr>")]


def test_filters_by_frame_authority_and_deadline_range(client, make, two_parquets):
    make.measure(
        make.participant("DELTA", "Paul"), two_parquets.parquet_a, frame=LegalFrame.PEINE_STAGE,
        decision_date=date(2025, 1, 1), deadline=date(2025, 6, 30),
    )
    db.session.commit()
    login(client, two_parquets.admin)
    html = client.get("/tableau-de-bord?cadre=peine_stage").get_data(as_text=True)
    assert "DELTA" in html and "ALPHA" not in html and "BRAVO" not in html
    html = client.get(f"/tableau-de-bord?autorite={two_parquets.parquet_b.id}").get_data(as_text=True)
    assert "BRAVO" in html and "ALPHA" not in html
    html = client.get("/tableau-de-bord?echeance_du=2025-06-01&echeance_au=2025-07-01").get_data(as_text=True)
    assert "DELTA" in html and "ALPHA" not in html
    html = client.get("/tableau-de-bord?echeance_du=pas-une-date").get_data(as_text=True)
    assert "Date invalide ignorée" in html and "DELTA" in html


def test_search_by_name_prefix_or_exact_case_reference(client, two_parquets):
    login(client, two_parquets.liaison_a)
    html = client.get(search(client, "/tableau-de-bord", "Alph")).get_data(as_text=True)
    assert "ALPHA Anne" in html and "ALPHONSE Marc" in html
    html = client.get(search(client, "/tableau-de-bord", "alphons")).get_data(as_text=True)
    assert "ALPHONSE Marc" in html and "ALPHA Anne" not in html
    html = client.get(search(client, "/tableau-de-bord", "A-002")).get_data(as_text=True)
    assert "ALPHONSE Marc" in html and "ALPHA Anne" not in html
    # A case reference is matched exactly, never as a prefix.
    assert "Aucune mesure ne correspond" in client.get(search(client, "/tableau-de-bord", "A-00")).get_data(as_text=True)
    # Accents and case do not matter.
    assert "ALPHA Anne" in client.get(search(client, "/tableau-de-bord", "âlpha")).get_data(as_text=True)


def test_each_page_view_is_audited_without_personal_data(client, two_parquets):
    login(client, two_parquets.liaison_a)
    client.get(search(client, "/tableau-de-bord", "alpha", statut="a-convoquer"))
    entries = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "dashboard.viewed")
    ).all()
    assert len(entries) == 1
    assert entries[0].user_id == two_parquets.liaison_a.id
    assert "alpha" not in entries[0].details.lower()
    assert "recherche" in entries[0].details and "a-convoquer" in entries[0].details
    client.get("/tableau-de-bord?page=2")
    assert db.session.scalar(
        sa.select(sa.func.count()).where(AuditEntry.action == "dashboard.viewed")
    ) == 2


def test_certificate_to_download(client, make, two_parquets):
    course, (enrollment,) = make.closed_course_with(
        people=1, organizations=[two_parquets.assoc], authority=two_parquets.parquet_a,
    )
    enrollment.measure.status = MeasureStatus.CERTIFICATE_ISSUED
    certificate = make.certificate(enrollment, number="2026-00042")
    db.session.commit()
    login(client, two_parquets.liaison_a)
    html = client.get("/tableau-de-bord?statut=attestation").get_data(as_text=True)
    assert f"/attestations/{certificate.id}.pdf" in html
    assert "Attestation délivrée" in html


def test_pagination_25_per_page(client, make, two_parquets):
    make.bulk_measures(30, two_parquets.parquet_a, prefix="PAGE")
    db.session.commit()
    login(client, two_parquets.liaison_a)
    first = client.get("/tableau-de-bord").get_data(as_text=True)
    assert first.count("/personnes/") == 25
    assert "Page 1 sur 2 — 32 résultats" in first
    second = client.get("/tableau-de-bord?page=2").get_data(as_text=True)
    assert second.count("/personnes/") == 7
    # A page past the end shows the last one rather than nothing.
    assert client.get("/tableau-de-bord?page=99").get_data(as_text=True).count("/personnes/") == 7


def test_query_count_is_constant_from_100_to_10000_measures(client, make, two_parquets):
    course = make.course(organizations=[two_parquets.assoc])
    for measure in two_parquets.a_measures:
        make.enrollment(measure, course)
    make.bulk_measures(98, two_parquets.parquet_a)
    db.session.commit()
    login(client, two_parquets.liaison_a)
    url = "/tableau-de-bord?statut=a-convoquer&cadre=composition_penale"
    small = queries_for(client, "/tableau-de-bord")
    small_filtered = queries_for(client, url)
    searched = search(client, "/tableau-de-bord", "masse")
    small_search = queries_for(client, searched)
    make.bulk_measures(9_900, two_parquets.parquet_a)
    db.session.commit()
    assert queries_for(client, "/tableau-de-bord") == small
    assert queries_for(client, url) == small_filtered
    assert queries_for(client, searched) == small_search
    assert queries_for(client, "/tableau-de-bord?page=300") == small
    # login, user + organizations, authorities, counts, page, audit… a handful, not one per row.
    assert small <= 10


def test_rows_show_the_current_course_date(client, make, two_parquets):
    course = make.course(organizations=[two_parquets.assoc], day=date(2026, 5, 4))
    make.enrollment(two_parquets.a_measures[0], course)
    db.session.commit()
    login(client, two_parquets.liaison_a)
    html = client.get(search(client, "/tableau-de-bord", "alpha")).get_data(as_text=True)
    row = html[html.index("ALPHA Anne"):]
    assert "04/05/2026" in row[: row.index("</tr>")]
