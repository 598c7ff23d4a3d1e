"""Attestations: issuing for a course, downloading, revoking, replacing, and the public
verification page; and the attestations shown on the course page and a person's page."""
from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError

from stages.auth.audit import audit
from stages.auth.permissions import Permission, can, get_authorized
from stages.certificates.document import certificate_pdf
from stages.certificates.forms import VerificationForm
from stages.certificates.issuing import issue_for_course, replace_certificate, revoke_certificate
from stages.certificates.models import Certificate
from stages.certificates.queries import (
    certificates_for_course,
    certificates_for_enrollments,
    count_due,
    replaceable,
)
from stages.certificates.verification import count_verification, verify
from stages.enrollment.forms import ReasonForm
from stages.enrollment.queries import participant_sections
from stages.errors import refused, render_error
from stages.extensions import db, limiter
from stages.forms import BaseForm
from stages.scheduling.models import Course, CourseStatus
from stages.scheduling.queries import course_sections
from stages.timeutil import today_local

bp = Blueprint("certificates", __name__)

DEFAULT_VERIFICATION_RATE_LIMIT = "30 per minute"


def _verification_limit() -> str:
    return current_app.config.get("VERIFICATION_RATE_LIMIT", DEFAULT_VERIFICATION_RATE_LIMIT)


# Both ways of checking (typed code, scanned QR) draw on one budget per remote address.
verification_limit = limiter.shared_limit(_verification_limit, scope="certificate-verification")


# ---------------------------------------------------------------------------------------------
# On the course page and a person's page


@course_sections.add(template="certificates/_course_certificates.html", position=20)
def course_certificates_section(course: Course, can_edit: bool, enrollments: list, **_) -> dict | None:
    """A closed course's attestations, and how many are still due, for its organizers."""
    if not can_edit or course.status != CourseStatus.CLOSED:
        return None
    certificates = certificates_for_course(course.id)
    return {"certificates": certificates, "certificates_due": count_due(enrollments, certificates)}


@participant_sections.add(template="certificates/_participant_certificates.html", position=20)
def participant_certificates_section(enrollments: list, full_view: bool, user, **_) -> dict | None:
    """Every attestation of the person's enrollments (replaced ones included)."""
    if not full_view:
        return None
    certificates = certificates_for_enrollments([e.id for e in enrollments])
    return {
        "certificates": certificates,
        "replaceable": replaceable(certificates),
        "can_revoke": can(user, Permission.MEASURE_EDIT),
    }


# ---------------------------------------------------------------------------------------------
# Staff pages


CONCURRENT_ISSUE = (
    "Des attestations ont été délivrées pour ce stage au même moment par une autre personne. "
    "Rien n'a été enregistré : vérifiez la liste puis recommencez si besoin."
)
CONCURRENT_REPLACEMENT = (
    "Une attestation a été délivrée pour cette personne au même moment par une autre personne. "
    "Rien n'a été enregistré : vérifiez ses attestations."
)


def _issued_message(issued: list[Certificate]) -> tuple[str, str]:
    if not issued:
        return "Aucune attestation à délivrer : toutes les personnes présentes en ont une.", "info"
    if len(issued) == 1:
        return f"1 attestation délivrée (n° {issued[0].number}).", "success"
    return f"{len(issued)} attestations délivrées (n° {issued[0].number} à {issued[-1].number}).", "success"


@bp.route("/stages/<int:course_id>/attestations", methods=["POST"])
@login_required
def course_issue(course_id: int):
    """Issue every attestation due in a closed course, all or nothing."""
    course = get_authorized(Course, course_id, Permission.SESSION_EDIT)
    # The unique constraints catch a concurrent issue: nothing is kept, trying again is safe.
    with refused(also={IntegrityError: CONCURRENT_ISSUE}) as outcome:
        issued = issue_for_course(course, by=current_user)
        db.session.commit()
    if outcome.ok:
        flash(*_issued_message(issued))
    return redirect(url_for("scheduling.course_detail", course_id=course_id))


@bp.route("/attestations/<int:certificate_id>.pdf")
@login_required
def download(certificate_id: int):
    """The attestation's PDF, identical at every download (liaisons of the authority included)."""
    certificate = get_authorized(Certificate, certificate_id, Permission.MEASURE_VIEW)
    pdf = certificate_pdf(certificate)
    if pdf is None:
        return render_error(404, "Cette attestation a été effacée avec les données de la personne "
                                 "(durée de conservation échue).")
    number = certificate.number
    audit(
        "certificate.downloaded", certificate,
        participant_id=certificate.enrollment.measure.participant_id,
    )
    db.session.commit()
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            # The number only: file names end up in download folders and mail attachments.
            "Content-Disposition": f'attachment; filename="attestation-{number}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )


@bp.route("/attestations/<int:certificate_id>/revoquer", methods=["GET", "POST"])
@login_required
def revoke(certificate_id: int):
    """Revoke an attestation, with the reason (organizers of the measure)."""
    certificate = get_authorized(Certificate, certificate_id, Permission.MEASURE_EDIT)
    participant_id = certificate.enrollment.measure.participant_id
    form = ReasonForm()
    if form.validate_on_submit():
        with refused(form) as outcome:
            revoke_certificate(certificate, form.reason.data, by=current_user)
            number = certificate.number
            db.session.commit()
        if outcome.ok:
            flash(f"L'attestation n° {number} est révoquée.", "success")
            return redirect(url_for("enrollment.participant_detail", participant_id=participant_id))
    return render_template(
        "certificates/revoke.html", form=form, certificate=certificate,
        participant=certificate.enrollment.measure.participant, course=certificate.enrollment.course,
    )


@bp.route("/attestations/<int:certificate_id>/remplacer", methods=["POST"])
@login_required
def replace(certificate_id: int):
    """Issue the attestation rectificative that replaces a revoked one (organizers of the measure)."""
    revoked = get_authorized(Certificate, certificate_id, Permission.MEASURE_EDIT)
    participant_id, course_id = revoked.enrollment.measure.participant_id, revoked.enrollment.course_id
    if not BaseForm().validate_on_submit():
        abort(400)
    # One valid attestation per enrollment: another replacement may have committed first.
    with refused(also={IntegrityError: CONCURRENT_REPLACEMENT}) as outcome:
        certificate = replace_certificate(revoked, by=current_user)
        db.session.commit()
    if outcome.ok:
        flash(f"Attestation rectificative n° {certificate.number} délivrée : elle remplace "
              f"l'attestation n° {revoked.number}.", "success")
    if request.form.get("retour") == "stage":
        return redirect(url_for("scheduling.course_detail", course_id=course_id))
    return redirect(url_for("enrollment.participant_detail", participant_id=participant_id))


# ---------------------------------------------------------------------------------------------
# Public verification (no login)


@bp.route("/verification", methods=["GET"])
def verify_form():
    """The public form where a code printed on an attestation can be typed."""
    return _verification_page(VerificationForm(), None)


@bp.route("/verification", methods=["POST"])
@verification_limit
def verify_submit():
    """Check a typed code (CSRF-protected form)."""
    form = VerificationForm()
    if not form.validate_on_submit():
        return _verification_page(form, None)
    return _check(form.code.data, form)


@bp.route("/verification/<code>")
@verification_limit
def verify_code(code: str):
    """Check the code carried by the URL of an attestation's QR code."""
    return _check(code, VerificationForm(formdata=None))


def _check(raw_code: str, form: VerificationForm):
    result = verify(raw_code)
    # Counted, never logged one by one: the outcome only, not the code typed nor who typed it.
    count_verification(result, today_local())
    db.session.commit()
    return _verification_page(form, result)


def _verification_page(form: VerificationForm, result):
    response = Response(render_template("certificates/verify.html", form=form, result=result))
    # Results must not linger in shared caches, nor the code leak to other sites as a referrer.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response
