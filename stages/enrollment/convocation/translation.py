"""The convocation in the person's language, printed after the French letter and the French email.

The French text is the one with legal force, and says so; the translation follows it « for
information ». It says the same things in the same order, from the gettext catalogs
(``stages.i18n``), whose message ids are the French sentences of the letter: the fixed legal core
(frames, criminal record, what absence leads to) is translated from the very texts the French
letter prints (``stages.enrollment.frames``).

What the translation does not translate: what people typed (names, addresses, the venue's access
and accessibility, payment instructions), and the paragraphs an association wrote into its
letters (``letter_texts``). These are the association's own words, in French, changed when it
likes, and no one has reviewed a translation of them; a machine translation of a paragraph that
may carry instructions would be a text nobody answers for. The translation names those paragraphs
and sends the person to the French letter, and to the association, for them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from stages.enrollment.convocation.wording import course_contact, sender_organization
from stages.enrollment.frames import CRIMINAL_RECORD, PEINE_STAGE_BASIS, absence_consequence
from stages.enrollment.ledger.services import amount_due
from stages.enrollment.letter_texts import SLOTS, current_texts
from stages.enrollment.models import (
    DecisionProcedure,
    Enrollment,
    LegalFrame,
    LegalMeasure,
    Payer,
    PaymentStatus,
)
from stages.enrollment.settings import letterhead
from stages.i18n import (
    N_,
    direction,
    format_day,
    format_euros,
    format_time,
    gettext_for,
    is_translated,
    language,
)

# The French line that opens the translation, whatever the language (the reader of the French
# letter sees what follows and what it is worth).
FRENCH_NOTICE = "Traduction pour information — seule la version française fait foi."
# The labels of the association's own paragraphs, in the catalogs (letter_texts.SLOTS).
_SLOT_LABELS = {
    "welcome": N_("Présentation du stage"),
    "practical": N_("Informations pratiques"),
    "closing": N_("Mot de la fin"),
}


@dataclass
class Translation:
    """A convocation's translation: plain text (no markup), in ``lang``."""

    lang: str
    rtl: bool
    language_name: str  # the language's own name (« Română », « العربية »)
    title: str
    notice: str
    # (heading or None, paragraphs)
    sections: list[tuple[str | None, list[str]]] = field(default_factory=list)


def convocation_translation(enrollment: Enrollment) -> Translation | None:
    """The translation of ``enrollment``'s letter into its person's language, or None when the
    person speaks French or a language without a catalog."""
    lang = enrollment.measure.participant.language
    if not is_translated(lang):
        return None
    _ = gettext_for(lang)
    measure, course = enrollment.measure, enrollment.course
    participant, venue = measure.participant, course.venue
    organization = sender_organization(enrollment)
    association = organization.name if organization else _("l'association organisatrice")

    deadline = format_day(measure.deadline, lang)
    if measure.frame == LegalFrame.PEINE_STAGE:
        deadline = _("%(date)s — délai légal : %(basis)s") % {
            "date": deadline, "basis": _(PEINE_STAGE_BASIS)}
    labels = (
        _("Personne convoquée"), _("Cadre"), _("Mandant (autorité qui a ordonné le stage)"),
        _("N° de parquet"), _("Stage à accomplir avant le"),
    )
    values = (
        f"{participant.surname.upper()} {participant.first_names}", frame_title(measure, lang),
        measure.authority.name, measure.case_reference, deadline,
    )
    identity = [
        _("%(label)s : %(value)s") % {"label": label, "value": value}
        for label, value in zip(labels, values)
    ]
    place = [venue.name + (f", {venue.room}" if venue.room else ""), venue.full_address]
    if venue.access_instructions:
        place.append(_("Accès : %(text)s") % {"text": venue.access_instructions})
    if venue.accessibility:
        place.append(_("Accessibilité : %(text)s") % {"text": venue.accessibility})

    sections: list[tuple[str | None, list[str]]] = [
        (None, [
            _("Objet : convocation à un stage de sensibilisation à la lutte contre l'achat "
              "d'actes sexuels"),
            _("Madame, Monsieur,"),
            _("Dans le cadre de la mesure rappelée ci-dessous, vous devez suivre un stage de "
              "sensibilisation à la lutte contre l'achat d'actes sexuels. Nous vous convoquons "
              "au stage organisé par %(association)s, aux dates et lieu suivants.")
            % {"association": association},
        ]),
        (None, identity),
        (_("Dates et horaires"), [
            *day_lines(enrollment, lang),
            _("Votre présence à chaque demi-journée est obligatoire : l'attestation de stage "
              "n'est délivrée que pour un stage suivi en entier. Présentez-vous un quart d'heure "
              "avant le début."),
        ]),
        (_("Lieu"), place),
        (_("À apporter"), [
            _("Une pièce d'identité en cours de validité (carte d'identité, passeport ou titre "
              "de séjour) et la présente convocation."),
        ]),
    ]
    fee = fee_text(measure, organization, lang)
    if fee:
        sections.append((_("Frais de stage"), [fee]))
    sections += [
        (_("Si vous ne vous présentez pas"), [
            _("Si vous ne vous présentez pas au stage, ou ne le suivez pas en entier, sans motif "
              "reconnu, l'autorité judiciaire qui a ordonné le stage (%(authority)s) en sera "
              "informée.") % {"authority": measure.authority.name}
            + " " + _(absence_consequence(measure)),
        ]),
        (_("Casier judiciaire"), [_(CRIMINAL_RECORD[measure.frame])]),
        (_("Demander une autre date"), [new_date_text(enrollment, lang)]),
    ]
    own = [slot for slot, text in current_texts(organization).items() if text.text.strip()]
    if own:
        sections.append((None, [
            _("L'association a ajouté à la convocation des paragraphes rédigés en français "
              "seulement (%(parts)s) : lisez-les dans la version française ci-dessus et, si "
              "besoin, demandez-en la traduction à l'association.")
            % {"parts": ", ".join(_(_SLOT_LABELS[slot]) for slot in SLOTS if slot in own)},
        ]))
    sections.append((None, [
        _("Nous vous prions d'agréer, Madame, Monsieur, l'expression de nos salutations "
          "distinguées."),
        _("Pour %(association)s") % {"association": association},
    ]))
    return Translation(
        lang=lang,
        rtl=direction(lang) == "rtl",
        language_name=language(lang).native,
        title=_("Traduction de votre convocation"),
        notice=_("Cette traduction vous est remise pour information. Seule la version française "
                 "de la convocation fait foi."),
        sections=sections,
    )


def frame_title(measure: LegalMeasure, lang: str) -> str:
    """``frames.frame_title`` in ``lang``."""
    _ = gettext_for(lang)
    title = _(measure.frame.label)
    if measure.procedure == DecisionProcedure.ORDONNANCE_PENALE:
        return _("%(frame)s, prononcée par ordonnance pénale") % {"frame": title}
    if measure.procedure == DecisionProcedure.POLICE_COURT_JUDGMENT:
        return _("%(frame)s, prononcée par jugement du tribunal de police") % {"frame": title}
    return title


def day_lines(enrollment: Enrollment, lang: str) -> list[str]:
    """One line per day of the course: « Thursday, March 12, 2026, from 9:30 to 12:30 and … »."""
    _ = gettext_for(lang)
    course = enrollment.course
    zone = course.venue.timezone
    lines = []
    for day, parts in course.days:
        hours = [
            _("de %(start)s à %(end)s") % {
                "start": format_time(p.starts_at, zone, lang), "end": format_time(p.ends_at, zone, lang)}
            for p in parts
        ]
        joined = hours[0]
        for more in hours[1:]:
            joined = _("%(first)s et %(second)s") % {"first": joined, "second": more}
        lines.append(_("%(day)s, %(hours)s") % {"day": format_day(day, lang), "hours": joined})
    return lines


def fee_text(measure: LegalMeasure, organization, lang: str) -> str | None:
    """``wording.fee_text`` in ``lang``."""
    if measure.fee_cents <= 0:
        return None
    _ = gettext_for(lang)
    amount = format_euros(measure.fee_cents, lang)
    if measure.payer == Payer.WAIVED or measure.payment_status == PaymentStatus.WAIVED:
        return _("Les frais de stage ne sont pas à votre charge : vous n'avez rien à régler.")
    if measure.payer == Payer.AUTHORITY:
        return _("Les frais de stage (%(amount)s) sont pris en charge par l'autorité judiciaire "
                 "qui a ordonné le stage (%(authority)s) : vous n'avez rien à régler.") % {
            "amount": amount, "authority": measure.authority.name}
    due = amount_due(measure)  # the ledger's: what is left to pay
    if due <= 0:
        return _("Les frais de stage (%(amount)s) sont réglés : vous n'avez plus rien à payer.") % {
            "amount": amount}
    amount = format_euros(due, lang)
    payee = organization.name if organization else _("l'association organisatrice")
    how = letterhead(organization, with_logo=False).payment_instructions
    values = {"amount": amount, "payee": payee, "how": how}
    if how:
        return _("Les frais de stage, à votre charge, s'élèvent à %(amount)s. Ils sont à régler "
                 "à %(payee)s au plus tard le premier jour du stage ; modalités de paiement : "
                 "%(how)s") % values
    return _("Les frais de stage, à votre charge, s'élèvent à %(amount)s. Ils sont à régler à "
             "%(payee)s au plus tard le premier jour du stage ; contactez l'association "
             "(coordonnées en tête de ce courrier) pour connaître les moyens de paiement "
             "acceptés.") % values


def contact_text(enrollment: Enrollment, lang: str) -> str:
    """``wording.how_to_reach`` in ``lang``."""
    _ = gettext_for(lang)
    contact = course_contact(enrollment, sender_organization(enrollment))
    if contact is None:
        return _("par courrier")
    ways = []
    if contact.email:
        ways.append(_("par courriel (%(email)s)") % {"email": contact.email})
    if contact.phone:
        ways.append(_("par téléphone (%(phone)s)") % {"phone": contact.phone})
    text = ways[0] if len(ways) == 1 else _("%(first)s ou %(second)s") % {
        "first": ways[0], "second": ways[1]}
    if contact.name:
        return _("%(ways)s, auprès de %(name)s, %(capacity)s") % {
            "ways": text, "name": contact.name, "capacity": _(contact.capacity)}
    return text


def new_date_text(enrollment: Enrollment, lang: str) -> str:
    """``wording.new_date_text`` in ``lang``."""
    _ = gettext_for(lang)
    organization = sender_organization(enrollment)
    name = organization.name if organization else _("l'association organisatrice")
    measure = enrollment.measure
    deadline = format_day(measure.deadline, lang)
    if measure.frame == LegalFrame.PEINE_STAGE:
        limit = _("le stage doit néanmoins être accompli dans le délai fixé par la loi, "
                  "%(basis)s, soit au plus tard le %(date)s.") % {
            "basis": _(PEINE_STAGE_BASIS), "date": deadline}
    else:
        limit = _("elle ne repousse pas la date limite d'exécution du stage (%(date)s).") % {
            "date": deadline}
    return _("Si un motif sérieux vous empêche de suivre le stage à ces dates (raison médicale, "
             "obligation professionnelle impérieuse…), contactez %(association)s avant le stage, "
             "%(contact)s, en joignant un justificatif. Une nouvelle date pourra vous être "
             "proposée ; %(limit)s") % {
        "association": name, "contact": contact_text(enrollment, lang), "limit": limit}


def email_lines(enrollment: Enrollment, *, seat_freed: bool = False) -> list[str]:
    """The convocation email's translation, after its French text: [] for a French speaker."""
    translation = convocation_translation(enrollment)
    if translation is None:
        return []
    lang = translation.lang
    _ = gettext_for(lang)
    course = enrollment.course
    venue = course.venue
    lines = ["", "-" * 40, FRENCH_NOTICE, "", translation.title, translation.notice, ""]
    if seat_freed:
        lines += [_("Une place s'est libérée dans le stage pour lequel vous étiez sur liste "
                    "d'attente : vous y avez désormais une place."), ""]
    lines += [
        _("Vous trouverez ci-joint votre convocation à un stage de sensibilisation. Il se "
          "déroulera :"),
        *(f"- {line}" for line in day_lines(enrollment, lang)),
        "",
        _("Lieu : %(venue)s") % {"venue": ", ".join(
            x for x in (venue.name, venue.room, venue.full_address) if x)},
    ]
    if venue.access_instructions:
        lines.append(_("Accès : %(text)s") % {"text": venue.access_instructions})
    lines += [
        "",
        _("Votre présence à chaque demi-journée est obligatoire. Munissez-vous d'une pièce "
          "d'identité et de la convocation jointe (imprimée ou sur votre téléphone)."),
        _("Les conséquences d'une absence et les frais éventuels sont précisés dans la "
          "convocation, dont la traduction suit la version française."),
        "",
        _("L'invitation jointe (invitation.ics) ajoute ces dates à votre agenda."),
        "",
        new_date_text(enrollment, lang),
    ]
    return lines
