"""The programme of a course's half-days, the association's catalogue of modules and its
directory of outside speakers."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from stages.archiving import archivable_query
from stages.auth.models import Organization
from stages.auth.permissions import Permission, authorize, can, get_authorized
from stages.errors import refused
from stages.extensions import db
from stages.pages import paginate
from stages.scheduling.models import Course
from stages.scheduling.programme import queries, services
from stages.scheduling.programme.forms import ItemActionForm, ItemForm, ModuleForm, SpeakerForm
from stages.scheduling.programme.models import BookingStatus, ProgrammeItem, ProgrammeModule, Speaker
from stages.scheduling.views.blueprint import bp

ENTITIES = {"modules": ProgrammeModule, "intervenants": Speaker}


@bp.route("/stages/<int:course_id>/programme", methods=["GET", "POST"])
@login_required
def course_programme(course_id: int):
    """The modules of each half-day with their times and speakers; organizers add modules."""
    course = get_authorized(Course, course_id, Permission.SESSION_VIEW)
    can_edit = can(current_user, Permission.SESSION_EDIT, course)
    form = ItemForm()
    zone = course.venue.timezone
    form.fill([(p.id, queries.part_label(p, zone)) for p in course.parts], queries.module_choices(course))
    if request.method == "POST":
        authorize(Permission.SESSION_EDIT, course)
        if form.validate_on_submit():
            part = next((p for p in course.parts if str(p.id) == form.part.data), None)
            module = db.session.get(ProgrammeModule, int(form.module.data))
            with refused(form) as outcome:
                services.add_item(part, module, by=current_user, start=form.start.data, end=form.end.data)
                db.session.commit()
            if outcome.ok:
                flash("Le module est ajouté au programme.", "success")
                return redirect(url_for("scheduling.course_programme", course_id=course.id))
    return render_template(
        "scheduling/programme/course_programme.html", course=course, form=form, can_edit=can_edit,
        programme=queries.programme_of(course), action_form=ItemActionForm(formdata=None),
        speakers=queries.speaker_choices(course) if can_edit else [], BookingStatus=BookingStatus,
    )


@bp.route("/stages/<int:course_id>/programme/<int:item_id>", methods=["POST"])
@login_required
def programme_item(course_id: int, item_id: int):
    """Move or remove one module of the programme, or book, answer for or release its speaker."""
    course = get_authorized(Course, course_id, Permission.SESSION_EDIT)
    item = db.session.get(ProgrammeItem, item_id)
    if item is None or item.part.course_id != course.id:
        abort(404)
    form = ItemActionForm()
    if not form.validate_on_submit():
        abort(400)
    with refused() as outcome:
        action = form.action.data
        if action in ("up", "down"):
            services.move_item(item, -1 if action == "up" else 1, by=current_user)
        elif action == "remove":
            services.remove_item(item, by=current_user)
        elif action == "book":
            speaker = db.session.get(Speaker, form.speaker_id() or 0) or abort(400)
            services.book_speaker(item, speaker, by=current_user)
        elif action == "status" and item.booking is not None and form.status.data:
            services.set_booking_status(item.booking, BookingStatus(form.status.data), by=current_user)
        elif action == "release":
            services.release_speaker(item, by=current_user)
        db.session.commit()
    if outcome.ok:
        flash("Le programme est mis à jour.", "success")
    return redirect(url_for("scheduling.course_programme", course_id=course.id))


@bp.route("/organisations/<int:organization_id>/<any(modules, intervenants):kind>")
@login_required
def programme_directory(organization_id: int, kind: str):
    """The association's catalogue of modules, or its directory of outside speakers."""
    organization = get_authorized(Organization, organization_id, Permission.SCHEDULE)
    model = ENTITIES[kind]
    archived = request.args.get("archives") == "1"
    order = model.title if model is ProgrammeModule else model.full_name
    pagination = paginate(archivable_query(model, archived).where(model.organization_id == organization.id)
                          .order_by(order, model.id))
    return render_template(f"scheduling/programme/{kind}.html", organization=organization,
                           pagination=pagination, show_archived=archived, kind=kind)


@bp.route("/organisations/<int:organization_id>/modules/nouveau", methods=["GET", "POST"],
          defaults={"module_id": None}, endpoint="module_create")
@bp.route("/modules/<int:module_id>/modifier", methods=["GET", "POST"], endpoint="module_edit")
@login_required
def module_form(module_id: int | None, organization_id: int | None = None):
    """Create or change a module of the catalogue."""
    module = get_authorized(ProgrammeModule, module_id, Permission.SCHEDULE) if module_id else None
    organization = module.organization if module else get_authorized(Organization, organization_id, Permission.SCHEDULE)
    form = ModuleForm()
    if request.method == "GET" and module:
        form.load(module)
    if form.validate_on_submit():
        with refused(form) as outcome:
            services.save_module(organization, form.module_data(), by=current_user, module=module)
            db.session.commit()
        if outcome.ok:
            flash("Le module est enregistré.", "success")
            return redirect(url_for("scheduling.programme_directory", organization_id=organization.id, kind="modules"))
    return render_template("scheduling/programme/module_form.html", form=form, module=module,
                           organization=organization)


@bp.route("/organisations/<int:organization_id>/intervenants/nouveau", methods=["GET", "POST"],
          defaults={"speaker_id": None}, endpoint="speaker_create")
@bp.route("/intervenants/<int:speaker_id>/modifier", methods=["GET", "POST"], endpoint="speaker_edit")
@login_required
def speaker_form(speaker_id: int | None, organization_id: int | None = None):
    """Create or change an outside speaker of the association."""
    speaker = get_authorized(Speaker, speaker_id, Permission.SCHEDULE) if speaker_id else None
    organization = speaker.organization if speaker else get_authorized(Organization, organization_id, Permission.SCHEDULE)
    form = SpeakerForm()
    if request.method == "GET" and speaker:
        form.load(speaker)
    if form.validate_on_submit():
        with refused(form) as outcome:
            services.save_speaker(organization, form.speaker_data(), by=current_user, speaker=speaker)
            db.session.commit()
        if outcome.ok:
            flash("La fiche est enregistrée.", "success")
            return redirect(url_for("scheduling.programme_directory", organization_id=organization.id,
                                    kind="intervenants"))
    return render_template("scheduling/programme/speaker_form.html", form=form, speaker=speaker,
                           organization=organization)


@bp.route("/<any(modules, intervenants):kind>/<int:object_id>/archiver", methods=["POST"])
@login_required
def programme_archive(kind: str, object_id: int):
    """Archive (a module no course used: delete) or restore a module or a speaker."""
    obj = get_authorized(ENTITIES[kind], object_id, Permission.SCHEDULE)
    archive, organization_id = request.form.get("archive") == "1", obj.organization_id
    if archive and kind == "modules":
        services.retire_module(obj, by=current_user)
    elif archive:
        services.archive_speaker(obj, by=current_user)
    else:
        services.restore(obj, by=current_user)
    db.session.commit()
    flash("C'est enregistré.", "success")
    return redirect(url_for("scheduling.programme_directory", organization_id=organization_id, kind=kind))
