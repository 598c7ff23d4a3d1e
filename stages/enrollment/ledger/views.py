"""The ledger's pages, on the enrollment blueprint: a measure's account and its forms, receipts,
the invoices of a course, the accounting list and its export, the people who still owe before
their course, an association's billing mentions (admins)."""
from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, render_template, request, stream_with_context, url_for
from flask_login import current_user, login_required

from stages.auth.audit import audit
from stages.auth.models import Organization
from stages.auth.permissions import Permission, authorize, can, get_authorized
from stages.enrollment.ledger import documents, queries, services
from stages.enrollment.ledger.forms import AccountingFilterForm, BillingForm, PaymentForm, RefundForm, WaiverForm
from stages.enrollment.ledger.models import BillingSettings, FeeInvoice, LedgerEntry, PaymentMethod
from stages.enrollment.ledger.pdf import invoice_pdf, receipt_pdf
from stages.wording import ngettext
from stages.enrollment.models import LegalMeasure, Participant
from stages.enrollment.queries import participant_sections
from stages.enrollment.views.blueprint import bp
from stages.errors import refused
from stages.extensions import db
from stages.forms import database_id
from stages.pages import paginate
from stages.scheduling.models import Course
from stages.scheduling.queries import course_sections
from stages.spreadsheets import csv_chunks
from stages.timeutil import today_local

FORMS = {"payment": PaymentForm, "refund": RefundForm, "waiver": WaiverForm}


@participant_sections.add(template="enrollment/_participant_fees.html", slot="main", position=3)
def participant_fees(participant: Participant, user, full_view: bool, files: list, **_) -> dict | None:
    """Each visible measure's account (two queries for all of them)."""
    if not full_view or not files:
        return None
    accounts = queries.accounts_of(f.measure.id for f in files)
    return {"fee_accounts": accounts,
            "fees_editable": {f.measure.id for f in files if can(user, Permission.FEES_RECORD, f.measure)}}


@course_sections.add(template="enrollment/_course_invoices.html", position=45)
def course_invoices(course: Course, user, can_edit: bool = False, **_) -> dict | None:
    """The invoices of the course's court-paid fees (organizers and admins)."""
    if not (can_edit and can(user, Permission.FEES_RECORD)):
        return None
    return {"invoices": documents.invoices_of(course)}


def _record(measure: LegalMeasure, action: str, form) -> None:
    if action == "payment":
        services.record_payment(measure, form.amount.data, PaymentMethod(form.method.data), form.paid_on.data,
                                form.reference.data, by=current_user)
    elif action == "refund":
        services.record_refund(measure, form.amount.data, PaymentMethod(form.method.data), form.paid_on.data,
                               form.reason.data, form.reference.data, by=current_user)
    else:
        services.record_waiver(measure, form.reason.data, form.amount.data, by=current_user)


@bp.route("/mesures/<int:measure_id>/frais", methods=["GET", "POST"])
@login_required
def fee_account(measure_id: int):
    """A measure's account, and recording a payment, a refund or a waiver."""
    measure = get_authorized(LegalMeasure, measure_id, Permission.FEES_RECORD)
    action = request.form.get("action", "") if request.method == "POST" else ""
    if request.method == "POST" and action not in FORMS:
        abort(400)
    forms = {name: cls(prefix=name) for name, cls in FORMS.items()}
    if action and forms[action].validate_on_submit():
        with refused(forms[action]) as outcome:
            _record(measure, action, forms[action])
            db.session.commit()
        if outcome.ok:
            flash("Écriture enregistrée.", "success")
            return redirect(url_for("enrollment.fee_account", measure_id=measure.id))
    account = queries.accounts_of([measure.id])[measure.id]
    html = render_template("enrollment/fee_account.html", measure=measure, account=account, forms=forms,
                           today=today_local())
    audit("participant.viewed", measure, participant_id=measure.participant_id, details="frais de stage")
    db.session.commit()
    return html


def _pdf(body: bytes, filename: str) -> Response:
    response = current_app.response_class(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/frais/recus/<int:entry_id>.pdf")
@login_required
def fee_receipt(entry_id: int):
    """A payment's receipt (PDF)."""
    entry = get_authorized(LedgerEntry, entry_id, Permission.FEES_RECORD)
    if entry.receipt_number is None:
        abort(404)
    body = receipt_pdf(documents.receipt_document(entry))
    measure = db.session.get(LegalMeasure, entry.measure_id)
    audit("receipt.downloaded", entry, participant_id=measure.participant_id)
    db.session.commit()
    return _pdf(body, f"recu-{entry.receipt_label}.pdf")


@bp.route("/stages/<int:course_id>/factures", methods=["POST"])
@login_required
def course_invoices_issue(course_id: int):
    """Invoice the course's court-paid fees, one invoice per association and authority."""
    course = get_authorized(Course, course_id, Permission.SESSION_EDIT)
    authorize(Permission.FEES_RECORD)
    with refused() as outcome:
        issued = documents.issue_invoices(course, by=current_user._get_current_object())
        db.session.commit()
    if outcome.ok:
        flash(ngettext("Facture établie : %(numbers)s.", "Factures établies : %(numbers)s.", len(issued),
                       numbers=", ".join(i.number_label for i in issued)), "success")
    return redirect(url_for("scheduling.course_detail", course_id=course.id))


@bp.route("/frais/factures/<int:invoice_id>.pdf")
@login_required
def fee_invoice(invoice_id: int):
    """An invoice to a referring authority (PDF)."""
    invoice = get_authorized(FeeInvoice, invoice_id, Permission.FEES_RECORD)
    body = invoice_pdf(documents.invoice_document(invoice))
    audit("invoice.downloaded", invoice)
    db.session.commit()
    return _pdf(body, f"facture-{invoice.number_label}.pdf")


def _filters():
    """The accounting filters from the query string: (form, association id, start, end)."""
    form = AccountingFilterForm(request.args)
    associations = queries.associations_of(current_user)
    form.organisation.choices = [("", "Toutes")] + [(str(o.id), o.name) for o in associations]
    chosen = database_id(request.args.get("organisation"))
    organization_id = chosen if chosen in {o.id for o in associations} else None
    start, end = form.period()
    return form, organization_id, start, end


@bp.route("/comptabilite")
@login_required
def accounting():
    """Every entry of the user's associations, filtered by association and period, paginated,
    with the period's signed total."""
    authorize(Permission.FEES_RECORD)
    form, organization_id, start, end = _filters()
    query = queries.accounting_entries(current_user, organization_id, start, end)
    pagination = paginate(queries.with_details(query))
    html = render_template(
        "enrollment/accounting.html", form=form, pagination=pagination, total=queries.period_sum(query),
        references=queries.case_references(pagination.items), invoices=queries.invoice_numbers(pagination.items),
        export_args={k: v for k, v in request.args.items() if k in ("organisation", "du", "au")},
    )
    audit("ledger.listed", details=f"page {pagination.page}")
    db.session.commit()
    return html


@bp.route("/comptabilite/export.csv")
@login_required
def accounting_export():
    """The accounting list as CSV, one line per entry, formula-safe."""
    authorize(Permission.FEES_RECORD)
    _, organization_id, start, end = _filters()
    query = queries.accounting_entries(current_user, organization_id, start, end)
    audit("export.downloaded", details="registre des frais (CSV)")
    db.session.commit()
    body = stream_with_context(csv_chunks(queries.EXPORT_HEADER, queries.export_rows(query)))
    headers = {"Content-Disposition": 'attachment; filename="registre-des-frais.csv"', "Cache-Control": "no-store"}
    return Response(body, mimetype="text/csv", headers=headers)


@bp.route("/comptabilite/a-regler")
@login_required
def fees_due():
    """The people who still owe their fee and whose course starts soon."""
    authorize(Permission.FEES_RECORD)
    pagination = paginate(queries.fees_due(current_user))
    balances = services.totals_of(e.measure_id for e in pagination.items)
    html = render_template("enrollment/fees_due.html", pagination=pagination, balances=balances,
                           days=queries.FEES_DUE_WITHIN_DAYS)
    audit("measures.list", details=f"frais à régler, page {pagination.page}")
    db.session.commit()
    return html


@bp.route("/organisations/<int:organization_id>/facturation", methods=["GET", "POST"])
@login_required
def billing_settings(organization_id: int):
    """An association's SIRET and VAT mention, printed on its receipts and invoices (admins)."""
    organization = get_authorized(Organization, organization_id, Permission.ADMIN)
    current = db.session.get(BillingSettings, organization.id)
    form = BillingForm(obj=current)
    if form.validate_on_submit():
        with refused(form) as outcome:
            documents.save_billing(organization, form.siret.data, form.vat_exempt.data, by=current_user)
            db.session.commit()
        if outcome.ok:
            flash("Mentions de facturation enregistrées.", "success")
            return redirect(url_for("enrollment.billing_settings", organization_id=organization.id))
    return render_template("enrollment/billing_settings.html", organization=organization, form=form)
