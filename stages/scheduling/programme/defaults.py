"""The catalogue an association starts with: the décret's three contents and the usual optional
ones (migration 0031 gave it to the associations already there)."""
from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.orm

from stages.auth.models import Organization, OrganizationKind
from stages.scheduling.programme.models import ProgrammeModule, ProgrammeModuleTopic, ProgrammeTopic as T

# (title, minutes, place in the default programme or None, topics, description)
DEFAULT_CATALOGUE = (
    ("Cadre du stage et loi du 13 avril 2016", 45, 1, (T.LAW_2016,),
     "Présentation du stage, de son cadre judiciaire et de la loi visant à renforcer la lutte contre le "
     "système prostitutionnel."),
    ("La réalité de la prostitution", 90, 2, (T.REALITY,),
     "Les personnes prostituées, les parcours, les réseaux et la traite des êtres humains."),
    ("La marchandisation du corps", 90, 3, (T.COMMODIFICATION,),
     "Le corps humain n'est pas une marchandise : dignité, consentement et violence."),
    ("La responsabilité pénale et civile de l'acheteur", 90, 4, (T.RESPONSIBILITY,),
     "L'infraction d'achat d'un acte sexuel, les peines encourues, la récidive et la réparation due aux "
     "victimes."),
    ("Santé et risques sanitaires", 60, 5, (T.HEALTH,),
     "Les risques pour la santé des personnes prostituées et des acheteurs."),
    ("Bilan et échanges", 30, 6, (), "Retour sur le stage avec les stagiaires."),
    ("Témoignage d'une personne survivante de la prostitution", 60, None, (T.TESTIMONY, T.REALITY),
     "Le témoignage d'une personne sortie de la prostitution."),
)


def default_catalogue() -> list[ProgrammeModule]:
    """New modules, one per line of the default catalogue (no association set yet)."""
    return [
        ProgrammeModule(title=title, duration_minutes=minutes, default_position=position, description=description,
                        topic_links=[ProgrammeModuleTopic(topic=t) for t in topics])
        for title, minutes, position, topics, description in DEFAULT_CATALOGUE
    ]


@sa.event.listens_for(sa.orm.Session, "before_flush")
def _new_associations_get_the_default_catalogue(session, _flush_context, _instances) -> None:
    """Whatever creates an association (the admin page, the demo, an import), it starts with
    the default catalogue, in the same transaction: never two catalogues seeded at once."""
    for obj in list(session.new):
        if isinstance(obj, Organization) and obj.kind == OrganizationKind.ASSOCIATION:
            for module in default_catalogue():
                module.organization = obj
                session.add(module)
