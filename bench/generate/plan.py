"""What a scale means: the sizing, the reference names and places, the benchmark's logins.

Constants, the ``Plan`` (how many of each thing) that ``make_plan`` derives from a scale, and the
``Report`` of a run.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, time, timezone

from stages.auth.models import Role
from stages.enrollment.models import EnrollmentStatus, LegalFrame
from stages.errors import DomainError
from stages.auth.models import OrganizationKind

# Scale 1.0 (DOMAIN.md, "Sizing").
FULL = {"authorities": 160, "associations": 40, "venues": 400, "staff": 2000, "sessions": 20_000}
HISTORY_DAYS = 3652  # ten years back from the reference date …
AHEAD_DAYS = 365  # … and a year ahead
CHUNK = 5000
RETENTION_DAYS = 3 * 365  # Config.RETENTION_MEASURE_DAYS
GRACE_DAYS = 90  # Config.RETENTION_GRACE_DAYS
AUDIT_DAYS = 365  # Config.RETENTION_AUDIT_DAYS
PARIS_CADENCE = 21  # a course every three weeks …
PARIS_WEEKDAY = 3  # … on Thursdays
PARIS_SHARE = 0.95  # below scale 0.01, the share of courses Paris may take
PARIS_BACKLOG = 36  # referrals waiting for a course in Paris
TITLE = "Stage de sensibilisation à la lutte contre l'achat d'actes sexuels"
MORNING, AFTERNOON = (time(9, 30), time(12, 30)), (time(13, 30), time(16, 30))
UTC = timezone.utc

# The benchmark's logins: one known password on a throw-away database, printed at the end.
BENCH_PASSWORD = "bench-stages-2026"
BENCH_ADMIN = "admin@bench.stages.test"
BENCH_ORGANIZER = "organisation@bench.stages.test"
BENCH_FACILITATOR = "intervenant@bench.stages.test"
BENCH_LIAISON = "referent@bench.stages.test"
BENCH_ACCOUNTS = (
    (BENCH_ADMIN, "Claire Administratrice", Role.ADMIN, None),
    (BENCH_ORGANIZER, "Nadia Benali", Role.ORGANIZER, "APCARS"),
    (BENCH_FACILITATOR, "Julien Morel", Role.FACILITATOR, "APCARS"),
    (BENCH_LIAISON, "Sophie Garnier", Role.LIAISON, "Parquet de Paris"),
)

# city, postal code, département, IANA zone (overseas jurisdictions keep their own time).
CITIES = (
    ("Lyon", "69003", "Rhône", None), ("Marseille", "13006", "Bouches-du-Rhône", None),
    ("Lille", "59000", "Nord", None), ("Toulouse", "31000", "Haute-Garonne", None),
    ("Bordeaux", "33000", "Gironde", None), ("Nantes", "44000", "Loire-Atlantique", None),
    ("Strasbourg", "67000", "Bas-Rhin", None), ("Bobigny", "93000", "Seine-Saint-Denis", None),
    ("Montpellier", "34000", "Hérault", None), ("Nice", "06000", "Alpes-Maritimes", None),
    ("Créteil", "94000", "Val-de-Marne", None), ("Nanterre", "92000", "Hauts-de-Seine", None),
    ("Rennes", "35000", "Ille-et-Vilaine", None), ("Versailles", "78000", "Yvelines", None),
    ("Évry", "91000", "Essonne", None), ("Pontoise", "95300", "Val-d'Oise", None),
    ("Grenoble", "38000", "Isère", None), ("Rouen", "76000", "Seine-Maritime", None),
    ("Toulon", "83000", "Var", None), ("Meaux", "77100", "Seine-et-Marne", None),
    ("Saint-Étienne", "42000", "Loire", None), ("Clermont-Ferrand", "63000", "Puy-de-Dôme", None),
    ("Dijon", "21000", "Côte-d'Or", None), ("Angers", "49000", "Maine-et-Loire", None),
    ("Tours", "37000", "Indre-et-Loire", None), ("Orléans", "45000", "Loiret", None),
    ("Reims", "51100", "Marne", None), ("Metz", "57000", "Moselle", None),
    ("Nancy", "54000", "Meurthe-et-Moselle", None), ("Mulhouse", "68100", "Haut-Rhin", None),
    ("Besançon", "25000", "Doubs", None), ("Caen", "14000", "Calvados", None),
    ("Brest", "29200", "Finistère", None), ("Limoges", "87000", "Haute-Vienne", None),
    ("Poitiers", "86000", "Vienne", None), ("Perpignan", "66000", "Pyrénées-Orientales", None),
    ("Nîmes", "30000", "Gard", None), ("Avignon", "84000", "Vaucluse", None),
    ("Aix-en-Provence", "13100", "Bouches-du-Rhône", None),
    ("Pau", "64000", "Pyrénées-Atlantiques", None),
    ("Bayonne", "64100", "Pyrénées-Atlantiques", None), ("Amiens", "80000", "Somme", None),
    ("Valenciennes", "59300", "Nord", None), ("Douai", "59500", "Nord", None),
    ("Béthune", "62400", "Pas-de-Calais", None), ("Le Mans", "72000", "Sarthe", None),
    ("Chartres", "28000", "Eure-et-Loir", None), ("Annecy", "74000", "Haute-Savoie", None),
    ("Chambéry", "73000", "Savoie", None), ("Valence", "26000", "Drôme", None),
    ("Melun", "77000", "Seine-et-Marne", None), ("Le Havre", "76600", "Seine-Maritime", None),
    ("Ajaccio", "20000", "Corse-du-Sud", None), ("Bastia", "20200", "Haute-Corse", None),
    ("Pointe-à-Pitre", "97110", "Guadeloupe", "America/Guadeloupe"),
    ("Fort-de-France", "97200", "Martinique", "America/Martinique"),
    ("Cayenne", "97300", "Guyane", "America/Cayenne"),
    ("Saint-Denis", "97400", "La Réunion", "Indian/Reunion"),
    ("Mamoudzou", "97600", "Mayotte", "Indian/Mayotte"),
    ("Boulogne-sur-Mer", "62200", "Pas-de-Calais", None),
)
ASSOCIATION_NAMES = (
    "Citoyens et Justice {}", "Association de contrôle judiciaire de {}", "Amicale du Nid {}",
    "France Victimes {}", "Association socio-judiciaire de {}", "Sauvegarde de l'enfance et de "
    "l'adulte {}", "Association d'aide aux victimes et de médiation de {}",
)
VENUE_KINDS = (
    ("Maison de Justice et du Droit de {}", "Salle polyvalente"),
    ("Point-justice de {}", "Salle de réunion"),
    ("Maison des associations de {}", "Salle 2"),
    ("Hôtel de ville de {}", "Salle du conseil"),
    ("Tribunal judiciaire de {}", "Salle de formation"),
    ("Centre social de {}", "Grande salle"),
    ("Locaux de l'association à {}", "Salle de formation"),
)
MORE_SURNAMES = (
    "Le Goff Le Gall Le Roux Kerleau Tanguy Guillou Le Bihan Morvan Jacob Hoarau Payet Grondin "
    "Boyer Techer Fontaine Riviere Lebon Hamon Collet Prevost Marechal Cordier Carpentier Lemaitre "
    "Benoit Gomez Diaz Ruiz Alves Pereira Ferreira Rodrigues Da Silva Dos Santos Oliveira Costa "
    "Cohen Levy Benhamou Haddad Mansour Benali Bouzid Cherif Hamidi Saidi Brahimi Belkacem Amrani "
    "Khelifi Ziani Meziane Traore Diallo Camara Keita Coulibaly Konate Diop Ndiaye Sow Fofana "
    "Tran Pham Le Hoang Vu Dang Bui Ngo Wang Zhang Chen Yilmaz Kaya Demir Celik Sahin Ozturk "
    "Schneider Weber Fischer Koch Klein Wolff Hoffmann Ricard Barre Poirier Carre Charpentier "
    "Gilbert Lacoste Hubert Aubry Bailly Herve Royer Bouvier Millet Besson Germain Vasseur Marty "
    "Guillot Tessier Rey Huet Jacquet Lecomte Poulain Laine Bertin Gaudin Renault Paris Bailly "
    "Andrieu Baron Bouchet Camus Collin Daniel Delmas Dumoulin Etienne Ferrand Gros Hamel Hardy "
    "Labbe Langlois Leblanc Lejeune Lemoine Maillard Michaud Moulin Navarro Olivier Pasquier "
    "Perret Pichon Raynaud Rolland Sauvage Thibault Vallee Verdier Vial Weiss"
).split()
STAFF_FIRST_NAMES = (
    "Claire Sophie Nadia Julie Camille Léa Anne Marie Émilie Sarah Laura Céline Aurélie Nathalie "
    "Isabelle Sandrine Karima Fatou Inès Manon Chloé Pauline Hélène Agnès Julien Thomas Nicolas "
    "Karim Moussa Antoine Mathieu Pierre Yann Olivier David Samuel Hugo Romain"
).split()
# Frames in the proportions an association sees them; who orders each (DOMAIN.md).
FRAMES = (
    (LegalFrame.ALTERNATIVE_POURSUITES, 30, OrganizationKind.PARQUET),
    (LegalFrame.COMPOSITION_PENALE, 34, OrganizationKind.PARQUET),
    (LegalFrame.STAGE_CONTRAVENTION, 16, OrganizationKind.TRIBUNAL),
    (LegalFrame.PEINE_STAGE, 12, OrganizationKind.TRIBUNAL),
    (LegalFrame.SURSIS_PROBATOIRE, 8, OrganizationKind.SPIP),
)
OUTCOMES = (
    (EnrollmentStatus.ATTENDED, 80),
    (EnrollmentStatus.PARTLY_ATTENDED, 6),
    (EnrollmentStatus.ABSENT_EXCUSED, 8),
    (EnrollmentStatus.ABSENT_UNEXCUSED, 6),
)
FEES = (0, 6500, 9000, 12000, 15000, 18000)


# ---------------------------------------------------------------------------------------------
# The plan: how many of each thing a scale means


@dataclass(frozen=True)
class Plan:
    scale: float
    courses: int
    authorities: int
    associations: int  # besides APCARS and the Fondation Scelles
    venues: int  # besides the two Paris venues
    staff: int


def make_plan(scale: float) -> Plan:
    """The counts for ``scale`` (1.0 = DOMAIN.md's sizing); small scales keep one other cluster."""
    if not 0 < scale <= 10:
        raise DomainError("L'échelle doit être comprise entre 0 (exclu) et 10.")
    courses = max(round(FULL["sessions"] * scale), 4)
    others = max(round(FULL["associations"] * scale) - 2, 1)
    authorities = min(max(round(FULL["authorities"] * scale), 6), 3 + 3 * len(CITIES))
    others = min(others, math.ceil((authorities - 3) / 3))
    return Plan(
        scale=scale,
        courses=courses,
        authorities=authorities,
        associations=others,
        venues=max(round(FULL["venues"] * scale) - 2, others),
        staff=max(round(FULL["staff"] * scale), 12 + 6 * others),
    )


@dataclass
class Report:
    """What was generated, and how long it took."""

    plan: Plan
    seed: int
    today: date
    counts: Counter = field(default_factory=Counter)
    seconds: float = 0.0
