"""Bounces: `flask stages mail-bounces` reads DSNs (real samples of Postfix, Exim, Gmail and
Outlook in tests/fixtures/dsn/) from a Maildir or an IMAP folder, each message once, and marks
the convocation email « rejeté (bounce) », making the summons due again."""
from __future__ import annotations

import shutil
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from stages.auth.models import AuditEntry, Role
from stages.enrollment import convocation
from stages.enrollment.convocation import bounces
from stages.enrollment.convocation.delivery import DeliveryChannel, DeliveryStatus, SummonsDelivery, record_delivery
from stages.enrollment.models import EnrollmentStatus
from stages.extensions import db
from stages.jobs import runner as job_runner
from stages.mail import outbox
from stages.mail_reports import ImapSettings, imap_messages, parse_report
from tests.helpers import login, override_config

DSN = Path(__file__).parent.parent / "fixtures" / "dsn"
SAMPLE_ID = "<5f1c0c9d2e7a4b3c8d9e0f1a2b3c4d5e@stages.test>"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
BOUNCES = ["postfix_user_unknown.eml", "exim_account_disabled.eml", "gmail_no_such_user.eml",
           "outlook_recipient_not_found.eml"]


@pytest.fixture(autouse=True)
def _frozen(time_machine):
    time_machine.move_to(NOW, tick=False)
    outbox().clear()
    yield
    outbox().clear()


@pytest.fixture
def summoned(make):
    """A person summoned by an email the mail server accepted with the samples' Message-ID."""
    org = make.organization(name="APCARS")
    course = make.course(organizations=[org], day=date(2026, 3, 12))
    person = make.participant(surname="DURAND", email="jean.durand@example.org")
    enrollment = make.enrollment(make.measure(person, handling=org), course, status=EnrollmentStatus.SUMMONED)
    enrollment.convocation_sent_at = NOW
    db.session.flush()
    record_delivery(enrollment, DeliveryChannel.EMAIL, DeliveryStatus.ACCEPTED, message_id=SAMPLE_ID)
    db.session.commit()
    return enrollment


def _maildir(tmp_path: Path, *names: str, raw: dict[str, bytes] | None = None) -> Path:
    root = tmp_path / "bounces"
    for sub in ("new", "cur", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(names):
        shutil.copy(DSN / name, root / "new" / f"1772442{index:03d}.M{index}P42.mail.stages.test")
    for index, (name, data) in enumerate((raw or {}).items()):
        (root / "new" / f"1772443{index:03d}.{name}").write_bytes(data)
    return root


def _rows(enrollment) -> list[SummonsDelivery]:
    db.session.expire_all()
    return list(db.session.scalars(
        sa.select(SummonsDelivery).where(SummonsDelivery.enrollment_id == enrollment.id).order_by(SummonsDelivery.id)
    ))


@pytest.mark.parametrize("sample", BOUNCES)
def test_a_dsn_sample_marks_the_email_bounced(runner, summoned, tmp_path, sample):
    """Must show: each real DSN sample marks the email bounced, the summons is due again."""
    folder = _maildir(tmp_path, sample)
    result = runner.invoke(args=["stages", "mail-bounces", "--maildir", str(folder)])
    assert result.exit_code == 0, result.output
    assert "1 courriel rejeté" in result.output
    bounce = _rows(summoned)[-1]
    assert (bounce.channel, bounce.status, bounce.message_id) == (DeliveryChannel.EMAIL, DeliveryStatus.BOUNCED, SAMPLE_ID)
    assert bounce.detail.startswith("5.")
    assert "@" not in bounce.detail and "durand" not in bounce.detail.lower()
    assert summoned.status == EnrollmentStatus.ENROLLED  # « à convoquer »
    assert summoned.convocation_sent_at is None
    assert "Convocation non remise — Courriel rejeté (bounce)" in summoned.events[-1].note
    assert db.session.scalar(sa.select(AuditEntry.action).where(AuditEntry.action == "convocation.undelivered"))
    # Read once: moved to cur/ with the « seen » flag, and a second run finds nothing.
    assert list((folder / "new").iterdir()) == []
    assert [p.name.endswith(":2,S") for p in (folder / "cur").iterdir()] == [True]
    again = runner.invoke(args=["stages", "mail-bounces", "--maildir", str(folder)])
    assert "0 courriel rejeté" in again.output and len(_rows(summoned)) == 2


def test_the_postfix_sample_reads_as_expected():
    report = parse_report((DSN / "postfix_user_unknown.eml").read_bytes())
    assert (report.message_id, report.action, report.status) == (SAMPLE_ID, "failed", "5.1.1")
    assert report.diagnostic.startswith("550 5.1.1")


def test_a_delayed_dsn_is_not_a_bounce(runner, summoned, tmp_path):
    result = runner.invoke(args=["stages", "mail-bounces", "--maildir", str(_maildir(tmp_path, "postfix_delayed.eml"))])
    assert "0 courriel rejeté, 1 remise retardée" in result.output
    delayed = _rows(summoned)[-1]
    assert (delayed.status, delayed.detail) == (
        DeliveryStatus.DELAYED, "4.4.1 — connect to mx.example.org[203.0.113.25]:25: Connection timed out"
    )
    assert summoned.status == EnrollmentStatus.SUMMONED


def test_unrelated_mail_hostile_files_and_others_bounces_are_ignored(runner, summoned, tmp_path):
    folder = _maildir(
        tmp_path, "unrelated_reply.eml", "other_message_bounce.eml", "hostile_malformed.eml",
        "hostile_broken_structure.eml",
        raw={"empty": b"", "binary": bytes(range(256)) * 50, "huge": b"X" * (6 * 1024 * 1024)},
    )
    result = runner.invoke(args=["stages", "mail-bounces", "--maildir", str(folder)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "0 courriel rejeté, 0 remise retardée, 0 remise confirmée, 7 messages ignorés."
    )
    assert [row.status for row in _rows(summoned)] == [DeliveryStatus.ACCEPTED]
    assert summoned.status == EnrollmentStatus.SUMMONED
    assert list((folder / "new").iterdir()) == []  # read once, even those


def test_a_bounce_leaves_a_summons_that_another_proof_holds(summoned, make):
    convocation.registered_letters.record_registered_letter(summoned, "1A12345678901", by=make.user(Role.ADMIN))
    assert bounces.record_report(parse_report((DSN / "postfix_user_unknown.eml").read_bytes())) == "bounced"
    assert summoned.status == EnrollmentStatus.SUMMONED
    assert bounces.record_report(parse_report((DSN / "exim_account_disabled.eml").read_bytes())) == "already"


def test_the_bounce_of_a_convocation_really_sent_is_matched_end_to_end(runner, make, tmp_path, client):
    org = make.organization(name="APCARS")
    organizer = make.user(Role.ORGANIZER, [org])
    person = make.participant(surname="DURAND", email="jean.durand@example.org")
    enrollment = make.enrollment(make.measure(person, handling=org),
                                 make.course(organizations=[org], day=date(2026, 3, 12)),
                                 status=EnrollmentStatus.ENROLLED)
    convocation.send_convocation(enrollment, by=organizer)
    db.session.commit()
    [message] = outbox()
    sample = (DSN / "gmail_no_such_user.eml").read_bytes().replace(SAMPLE_ID.encode(), message["Message-ID"].encode())
    folder = _maildir(tmp_path, raw={"gmail": sample})
    runner.invoke(args=["stages", "mail-bounces", "--maildir", str(folder)])
    assert [row.status for row in _rows(enrollment)] == [DeliveryStatus.ACCEPTED, DeliveryStatus.BOUNCED]
    assert enrollment.status == EnrollmentStatus.ENROLLED
    login(client, organizer)
    page = client.get(f"/personnes/{person.id}").get_data(as_text=True)
    assert "Convocation à envoyer de nouveau : Courriel rejeté (bounce) (5.1.1 — The email account" in page
    assert "Envoyer la convocation" in page


def test_the_command_says_what_is_missing_in_french(runner, tmp_path, monkeypatch):
    result = runner.invoke(args=["stages", "mail-bounces"])
    assert result.exit_code != 0 and "Aucune boîte à lire" in result.output
    result = runner.invoke(args=["stages", "mail-bounces", "--maildir", str(tmp_path / "nulle-part")])
    assert result.exit_code != 0 and "Dossier Maildir introuvable" in result.output
    monkeypatch.delenv("STAGES_BOUNCE_IMAP_PASSWORD", raising=False)
    result = runner.invoke(args=["stages", "mail-bounces", "--imap-host", "imap.stages.test"])
    assert result.exit_code != 0 and "STAGES_BOUNCE_IMAP_PASSWORD" in result.output


class FakeImap:
    """An IMAP4_SSL stand-in holding a folder of messages (no network in tests)."""

    instances: list = []

    def __init__(self, host, port, ssl_context=None, timeout=None):
        assert ssl_context is not None and ssl_context.check_hostname  # TLS, certificate checked
        self.messages = {b"1": (DSN / "outlook_recipient_not_found.eml").read_bytes(),
                         b"2": (DSN / "unrelated_reply.eml").read_bytes()}
        self.seen, self.moved, self.logged_in = set(), {}, None
        FakeImap.instances.append(self)

    def login(self, user, password):
        self.logged_in = (user, password)
        return "OK", [b"Logged in"]

    def select(self, folder):
        assert folder == '"Bounces"'
        return "OK", [b"2"]

    def uid(self, command, *args):
        if command == "SEARCH":
            return "OK", [b" ".join(uid for uid in self.messages if uid not in self.seen)]
        if command == "FETCH":
            uid, what = args
            assert what == "(BODY.PEEK[])"  # reading does not mark it seen
            return "OK", [(uid + b" (BODY[] {42}", self.messages[uid]), b")"]
        if command == "STORE":
            self.seen.add(args[0])
            return "OK", []
        if command == "MOVE":
            self.moved[args[0]] = args[1]
            return "OK", []
        raise AssertionError(command)

    def logout(self):
        return "BYE", []


def test_an_imap_folder_is_read_over_tls_and_each_message_once(summoned, monkeypatch):
    monkeypatch.setenv("STAGES_BOUNCE_IMAP_PASSWORD", "s3cret")
    settings = ImapSettings(host="imap.stages.test", user="bounces", password="s3cret",
                            folder="Bounces", move_to="Traités")
    run = bounces.process_mailbox(imap_messages(settings, connect=FakeImap))
    imap = FakeImap.instances[-1]
    assert (run.bounced, run.ignored) == (1, 1)
    assert imap.logged_in == ("bounces", "s3cret")
    assert imap.seen == {b"1", b"2"} and imap.moved == {b"1": '"Traités"', b"2": '"Traités"'}
    assert _rows(summoned)[-1].status == DeliveryStatus.BOUNCED


def test_the_scheduled_job_reads_the_configured_maildir(app, summoned, tmp_path):
    folder = _maildir(tmp_path, "exim_account_disabled.eml")
    with override_config(app, BOUNCE_MAILDIR=str(folder)):
        run = job_runner.run_job("read_mail_bounces")
        again = job_runner.run_job("read_mail_bounces")  # the same slot: claimed once
    assert run.outcome == "success" and "courriels rejetés : 1" in run.counts_text
    assert again is None
    assert _rows(summoned)[-1].status == DeliveryStatus.BOUNCED


def test_the_database_keeps_one_bounce_per_message(summoned):
    """Two readers of the same DSNs at once: the second bounce is refused by the database, and
    reading it again counts it as already recorded."""
    record_delivery(summoned, DeliveryChannel.EMAIL, DeliveryStatus.BOUNCED, message_id=SAMPLE_ID)
    db.session.commit()
    with pytest.raises(sa.exc.IntegrityError):
        with db.session.begin_nested():
            record_delivery(summoned, DeliveryChannel.EMAIL, DeliveryStatus.BOUNCED, message_id=SAMPLE_ID)
    report = parse_report((DSN / "gmail_no_such_user.eml").read_bytes())
    assert bounces.record_report(report) == "already"


def test_the_person_s_data_export_holds_the_proofs(summoned):
    from stages.privacy.subject_export.gather import build_export

    export = build_export(summoned.measure.participant)
    [measure] = export["measures"]
    [enrollment] = measure["enrollments"]
    [proof] = enrollment["convocation_deliveries"]
    assert (proof["channel"], proof["status"], proof["message_id"]) == ("email", "accepted", SAMPLE_ID)
