"""Attestations: issuing for a session, downloading, revoking, and the public verification page."""
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
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from stages.auth.audit import audit
from stages.auth.permissions import Permission, can, get_authorized
from stages.certificates.codes import MAX_CODE_INPUT
from stages.certificates.document import certificate_pdf
from stages.certificates.issuing import issue_for_session, replace_certificate, revoke_certificate
from stages.certificates.models import Certificate
from stages.certificates.verification import verify
from stages.enrollment.forms import ReasonForm
from stages.enrollment.models import LegalMeasure
from stages.errors import DomainError
from stages.extensions import db, limiter
from stages.forms import BaseForm, strip_filter
from stages.scheduling.models import CourseSession

bp = Blueprint("certificates", __name__)

DEFAULT_VERIFICATION_RATE_LIMIT = "30 per minute"


class VerificationForm(BaseForm):
    """The code typed by whoever holds a paper attestation."""

    code = StringField(
        "Code de vérification",
        validators=[
            DataRequired("Saisissez le code de vérification imprimé sous le code QR."),
            Length(max=MAX_CODE_INPUT, message="Ce code est trop long."),
        ],
        filters=[strip_filter],
        description=(
            "16 caractères, imprimés sous le code QR de l'attestation "
            "(par exemple ABCD-EFGH-JKMN-PQRS). Majuscules ou minuscules, tirets facultatifs."
        ),
    )


def _verification_limit() -> str:
    return current_app.config.get("VERIFICATION_RATE_LIMIT", DEFAULT_VERIFICATION_RATE_LIMIT)


# Both ways of checking (typed code, scanned QR) draw on one budget per remote address.
verification_limit = limiter.shared_limit(_verification_limit, scope="certificate-verification")


# ---------------------------------------------------------------------------------------------
# Staff pages


@bp.route("/stages/<int:session_id>/attestations", methods=["POST"])
@login_required
def session_issue(session_id: int):
    """Issue every attestation due in a closed session, all or nothing."""
    session = get_authorized(CourseSession, session_id, Permission.SESSION_EDIT)
    try:
        issued = issue_for_session(session, by=current_user)
        for certificate in issued:
            audit(
                "certificate.issued", certificate,
                participant_id=certificate.enrollment.measure.participant_id,
            )
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    except IntegrityError:
        # The unique constraints caught a concurrent issue: nothing was kept, trying again is safe.
        db.session.rollback()
        flash(
            "Des attestations ont été délivrées pour ce stage au même moment par une autre "
            "personne. Rien n'a été enregistré : vérifiez la liste puis recommencez si besoin.",
            "error",
        )
    else:
        if not issued:
            flash("Aucune attestation à délivrer : toutes les personnes présentes en ont une.", "info")
        elif len(issued) == 1:
            flash(f"1 attestation délivrée (n° {issued[0].number}).", "success")
        else:
            flash(
                f"{len(issued)} attestations délivrées (n° {issued[0].number} à "
                f"{issued[-1].number}).",
                "success",
            )
    return redirect(url_for("scheduling.session_detail", session_id=session_id))


def _certificate_for(certificate_id: int, permission: Permission) -> Certificate:
    """The attestation, if the current user may do ``permission`` on its measure.

    Like ``get_authorized``: a missing attestation is a 403 for non-admins, so ids cannot be probed.
    """
    certificate = db.session.get(Certificate, certificate_id)
    if certificate is None:
        abort(404 if can(current_user, Permission.ADMIN) else 403)
    get_authorized(LegalMeasure, certificate.enrollment.measure_id, permission)
    return certificate


@bp.route("/attestations/<int:certificate_id>.pdf")
@login_required
def download(certificate_id: int):
    """The attestation's PDF, identical at every download (liaisons of the authority included)."""
    certificate = _certificate_for(certificate_id, Permission.MEASURE_VIEW)
    pdf = certificate_pdf(certificate)
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
    certificate = _certificate_for(certificate_id, Permission.MEASURE_EDIT)
    participant_id = certificate.enrollment.measure.participant_id
    form = ReasonForm()
    if form.validate_on_submit():
        try:
            revoke_certificate(certificate, form.reason.data, by=current_user)
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            number = certificate.number
            # The reason stays on the certificate row: it may name people, details may not.
            audit("certificate.revoked", certificate, participant_id=participant_id)
            db.session.commit()
            flash(f"L'attestation n° {number} est révoquée.", "success")
            return redirect(url_for("enrollment.participant_detail", participant_id=participant_id))
    return render_template(
        "certificates/revoke.html", form=form, certificate=certificate,
        participant=certificate.enrollment.measure.participant,
        session=certificate.enrollment.session,
    )


@bp.route("/attestations/<int:certificate_id>/remplacer", methods=["POST"])
@login_required
def replace(certificate_id: int):
    """Issue the attestation rectificative that replaces a revoked one (organizers of the measure)."""
    revoked = _certificate_for(certificate_id, Permission.MEASURE_EDIT)
    participant_id = revoked.enrollment.measure.participant_id
    if not BaseForm().validate_on_submit():
        abort(400)
    try:
        certificate = replace_certificate(revoked, by=current_user)
        audit(
            "certificate.issued", certificate, participant_id=participant_id,
            details=f"remplace l'attestation n° {revoked.number}",
        )
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    except IntegrityError:
        # Another replacement committed first (one valid attestation per enrollment).
        db.session.rollback()
        flash(
            "Une attestation a été délivrée pour cette personne au même moment par une autre "
            "personne. Rien n'a été enregistré : vérifiez ses attestations.",
            "error",
        )
    else:
        flash(
            f"Attestation rectificative n° {certificate.number} délivrée : elle remplace "
            f"l'attestation n° {revoked.number}.",
            "success",
        )
    if request.form.get("retour") == "stage":
        return redirect(url_for("scheduling.session_detail", session_id=revoked.enrollment.session_id))
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
    certificate = db.session.get(Certificate, result.certificate_id) if result.certificate_id else None
    # The outcome only: never the code typed, nor anything about the person.
    audit("certificate.verified", certificate, details=result.status.value)
    db.session.commit()
    return _verification_page(form, result)


def _verification_page(form: VerificationForm, result):
    response = Response(render_template("certificates/verify.html", form=form, result=result))
    # Results must not linger in shared caches, nor the code leak to other sites as a referrer.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response
