"""National-scale data for benchmarks: ``flask stages generate --scale 1.0`` fills a database.

Scale 1.0 is the sizing of DOMAIN.md: 160 referring authorities, 40 associations, 400 venues,
2,000 staff accounts and 20,000 sessions over ten years of history plus a year ahead, with about
200,000 participants and measures, their enrollments, attendance marks, attestations, bilans and a
year of audit entries. The same seed and reference date give the same database.

How it stays realistic and fast:

- **The Paris cluster is the same at every scale** (the seed text's set-up: APCARS and the
  Fondation Scelles co-running a course every three weeks, on Thursdays, at the Préfecture and the
  MJD du 17e, for the Parquet, the Tribunal and the SPIP de Paris). The scale adds the rest of
  France around it: more jurisdictions, associations and venues, each with its own history. So the
  pages a benchmark opens for the Paris accounts show the same content at every scale, and any
  slowdown between scales is the database's size, not the page's content. Below scale 0.01 the
  Paris cluster keeps only the courses nearest the reference date.
- **Rows are inserted in bulk**, ``INSERT`` with many parameter sets per statement, in chunks of
  5,000, with ids computed here. The ORM's ``before_flush`` hook (``sync_bookings``) is bypassed,
  so the generator writes ``session_parts.venue_id``/``is_active`` and ``facilitator_bookings``
  itself, from a schedule that never books a venue or a facilitator twice at once: courses follow
  one another on "lanes" (a venue, or all of Paris) with at least a free day in between, and each
  lane has its own facilitators.
- **The state is what the application would have produced**: past courses held and closed with
  their marks and outcomes, attestations for complete attendance (rows only: the PDF is redrawn on
  download, ``sha256`` stays NULL), bilans sent, excused people rescheduled, cancelled courses,
  a backlog of referrals, and the retention rules applied (identities of people whose measures all
  closed more than three years ago are erased; the audit log keeps one year).
"""
from __future__ import annotations

import base64
import math
import random
import time as clock
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

import sqlalchemy as sa

from stages.attendance.models import AttendanceStatus
from stages.attendance.services import PRESENT_STATUSES
from stages.auth.models import Role
from stages.certificates.services import CODE_ALPHABET, CODE_LENGTH
from stages.demo import BIRTH_PLACES, FIRST_NAMES, STREETS, SURNAMES, VENUES as PARIS_VENUES
from stages.enrollment.models import (
    SEAT_HOLDING_STATUSES,
    EnrollmentStatus,
    LegalFrame,
    MeasureStatus,
    Payer,
    PaymentStatus,
)
from stages.enrollment.services import search_key
from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling.models import OrganizationKind, SessionStatus
from stages.timeutil import local_to_utc, to_local, today_local

# Scale 1.0 (DOMAIN.md, "Sizing").
FULL = {"authorities": 160, "associations": 40, "venues": 400, "staff": 2000, "sessions": 20_000}
HISTORY_DAYS = 3652  # ten years back from the reference date …
AHEAD_DAYS = 365  # … and a year ahead
CHUNK = 5000
RETENTION_DAYS = 3 * 365  # Config.RETENTION_MEASURE_DAYS
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
    (LegalFrame.ORDONNANCE_PENALE, 16, OrganizationKind.TRIBUNAL),
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


class DatabaseNotEmpty(DomainError):
    """The generator only fills an empty database."""


# ---------------------------------------------------------------------------------------------
# The plan: how many of each thing a scale means


@dataclass(frozen=True)
class Plan:
    scale: float
    sessions: int
    authorities: int
    associations: int  # besides APCARS and the Fondation Scelles
    venues: int  # besides the two Paris venues
    staff: int


def make_plan(scale: float) -> Plan:
    """The counts for ``scale`` (1.0 = DOMAIN.md's sizing); small scales keep one other cluster."""
    if not 0 < scale <= 10:
        raise DomainError("L'échelle doit être comprise entre 0 (exclu) et 10.")
    sessions = max(round(FULL["sessions"] * scale), 4)
    others = max(round(FULL["associations"] * scale) - 2, 1)
    authorities = min(max(round(FULL["authorities"] * scale), 6), 3 + 3 * len(CITIES))
    others = min(others, math.ceil((authorities - 3) / 3))
    return Plan(
        scale=scale,
        sessions=sessions,
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


# ---------------------------------------------------------------------------------------------
# Bulk writing


class _Writer:
    """Buffers rows per table and inserts them in bulk, parents first, ``CHUNK`` rows at a time."""

    def __init__(self):
        self.tables = {table.name: table for table in db.metadata.sorted_tables}
        self.order = [table.name for table in db.metadata.sorted_tables]
        self.rows: dict[str, list[dict]] = defaultdict(list)
        self.counts: Counter = Counter()
        self._ids: dict[str, int] = {}
        self._checked: set[str] = set()
        self.pending = 0

    def next_id(self, table: str) -> int:
        if table not in self._ids:
            column = self.tables[table].c.id
            self._ids[table] = (db.session.scalar(sa.select(sa.func.max(column))) or 0) + 1
        value = self._ids[table]
        self._ids[table] += 1
        return value

    def add(self, table: str, row: dict) -> None:
        if table not in self._checked:
            # Catch a misspelt column at the first row; columns left out (added since, by a
            # migration) take their defaults, as long as every row of the table leaves them out.
            unknown = set(row) - set(self.tables[table].c.keys())
            if unknown:
                raise AssertionError(f"{table}: unknown columns {sorted(unknown)}")
            self._checked.add(table)
        self.rows[table].append(row)
        self.pending += 1
        if self.pending >= CHUNK:
            self.flush()

    def flush(self) -> None:
        """Insert everything buffered, in foreign-key order."""
        for name in self.order:
            rows = self.rows.pop(name, None)
            if rows:
                db.session.execute(sa.insert(self.tables[name]), rows)
                self.counts[name] += len(rows)
        self.pending = 0

    def fix_sequences(self) -> None:
        """PostgreSQL: explicit ids do not move the serial sequences; move them past the max."""
        if db.session.get_bind().dialect.name != "postgresql":
            return
        for name in list(self.counts):
            if name in self.tables and "id" in self.tables[name].c:
                db.session.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"(SELECT max(id) FROM {name}))"
                    )
                )


# ---------------------------------------------------------------------------------------------
# Entry points


def database_is_empty() -> bool:
    """No organization, venue, session nor participant yet (accounts alone are allowed)."""
    from stages.enrollment.models import Participant
    from stages.scheduling.models import CourseSession, Organization, Venue

    return not any(
        db.session.scalar(sa.select(sa.exists().where(model.id.is_not(None))))
        for model in (Organization, Venue, CourseSession, Participant)
    )


def check_empty() -> None:
    """Refuse, in French, to add national-scale data to a database already in use."""
    if not database_is_empty():
        raise DatabaseNotEmpty(
            "La base de données contient déjà des organisations, des lieux, des stages ou des "
            "personnes : le générateur ne remplit qu'une base vide (créez-en une nouvelle, puis "
            "« flask db upgrade »)."
        )


def generate(
    scale: float, seed: int = 2026, today: date | None = None, progress=None
) -> Report:
    """Fill an empty database with ``scale`` × the national sizing; the caller commits.

    ``today`` is the reference date (local, Europe/Paris): past and future are counted from it, so
    the same seed and date give the same rows. ``progress(n)`` is called as sessions are written.
    """
    started = clock.perf_counter()
    plan = make_plan(scale)
    check_empty()
    report = Report(plan, seed, today or today_local())
    world = _World(plan, seed, report.today, _Writer(), progress or (lambda n: None))
    world.build()
    report.counts = world.w.counts
    report.seconds = clock.perf_counter() - started
    return report


def tidy_database() -> None:
    """After the commit: what a database in service would have done long ago by itself.

    PostgreSQL: VACUUM ANALYZE (autovacuum's work), so the planner has statistics and the
    retention UPDATE leaves no dead rows behind. SQLite: checkpoint the WAL, so readers do not
    look pages up in a write-ahead log as big as the database.
    """
    engine = db.engine
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("VACUUM ANALYZE")
        elif engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


# ---------------------------------------------------------------------------------------------
# The world


@dataclass
class _Org:
    id: int
    name: str
    short_name: str
    kind: OrganizationKind


@dataclass
class _Venue:
    id: int
    name: str
    capacity: int
    zone: str


@dataclass
class _Lane:
    """Courses that follow one another (one venue, or all of Paris) and their facilitators."""

    venues: list[_Venue]
    pools: list[list[int]]  # one pool per association co-running; a course takes one from each


@dataclass
class _Cluster:
    key: str
    associations: list[_Org]
    authorities: list[_Org]
    lanes: list[_Lane]
    organizers: list[int]
    cities: list[tuple]
    sessions: int = 0
    backlog: int = 0


@dataclass
class _Slot:
    """A course to write: its lane, venue, local days and what became of it."""

    lane: _Lane
    venue: _Venue
    days: list[date]
    number: int  # rank on its lane (Paris: on the three-week grid), to rotate facilitators
    rng: random.Random  # the course's own decisions: size, statuses, marks
    people: random.Random  # who comes: new measures and people
    status: SessionStatus = SessionStatus.SCHEDULED
    id: int = 0
    parts: list[tuple[int, datetime, datetime]] = field(default_factory=list)
    reserved: list = field(default_factory=list)  # measures rescheduled into this course

    @property
    def start(self) -> date:
        return self.days[0]

    @property
    def end(self) -> date:
        return self.days[-1]


@dataclass
class _Measure:
    """A measure being written: its row waits until its last enrollment is known."""

    row: dict
    participant_id: int
    enrollments: list[dict] = field(default_factory=list)
    tail: list[tuple[str, dict]] = field(default_factory=list)  # rows that reference the enrollments
    last_at: datetime | None = None  # its latest event, so that a new enrollment comes after


class _World:
    def __init__(self, plan: Plan, seed: int, today: date, writer: _Writer, progress):
        self.plan, self.seed, self.today, self.w, self.progress = plan, seed, today, writer, progress
        self.now = local_to_utc(today, time(12, 0))
        self.window = (today - timedelta(days=HISTORY_DAYS), today + timedelta(days=AHEAD_DAYS))
        self.retention_cutoff = self.now - timedelta(days=RETENTION_DAYS)
        self.audit_from = self.now - timedelta(days=AUDIT_DAYS)
        self.holidays = _holidays(self.window[0].year, self.window[1].year)
        self.rng = random.Random(f"{seed}:world")
        self.certificates: list[dict] = []
        self.hashes = self._password_hashes()
        self.names = SURNAMES + MORE_SURNAMES
        self.emails: set[str] = set()
        self.staff = 0

    # --- Orchestration ---------------------------------------------------------------------

    def build(self) -> None:
        paris = self._paris_cluster()
        others = self._other_clusters()
        self._admins()
        self._liaisons([paris, *others])
        clusters = [paris, *others]
        self._share_sessions(paris, others)
        for cluster in clusters:
            self._write_cluster(cluster)
        self._write_certificates()
        self.w.flush()
        self._apply_retention()
        self.w.fix_sequences()
        db.session.flush()

    def _share_sessions(self, paris: _Cluster, others: list[_Cluster]) -> None:
        total = self.plan.sessions
        paris.sessions = min(len(self._paris_days()), math.floor(total * PARIS_SHARE))
        rest = total - paris.sessions
        # Big cities first, with a long tail: weight 1/rank^0.7.
        weights = [1 / (rank + 1) ** 0.7 for rank in range(len(others))]
        for cluster, weight in zip(others, weights):
            cluster.sessions = round(rest * weight / sum(weights))
        for cluster in [paris, *others]:
            # Referrals waiting for a date: two for each course of the next five months.
            per_month = cluster.sessions / ((HISTORY_DAYS + AHEAD_DAYS) / 30.4)
            cluster.backlog = PARIS_BACKLOG if cluster is paris else max(2, round(per_month * 5 * 2))

    # --- Organizations, venues, accounts ----------------------------------------------------

    def _org(self, name, short_name, kind, address, email=None) -> _Org:
        org = _Org(self.w.next_id("organizations"), name, short_name[:60], kind)
        self.w.add("organizations", dict(
            id=org.id, name=name, short_name=org.short_name, kind=kind, address=address,
            email=email, phone=None, archived_at=None,
            created_at=self.now - timedelta(days=HISTORY_DAYS + 30),
        ))
        return org

    def _venue(self, name, address, postal_code, city, room, capacity, zone, **extra) -> _Venue:
        venue = _Venue(self.w.next_id("venues"), name, capacity, zone)
        self.w.add("venues", dict(
            id=venue.id, name=name, address=address, postal_code=postal_code, city=city,
            room=room, capacity=capacity, accessibility=extra.get("accessibility"),
            access_instructions=extra.get("access_instructions"),
            opening_hours=extra.get("opening_hours"), timezone=zone, archived_at=None,
            created_at=self.now - timedelta(days=HISTORY_DAYS + 30),
        ))
        return venue

    def _user(self, role: Role, orgs: list[_Org], full_name=None, email=None, rng=None) -> int:
        rng = rng or self.rng
        if full_name is None:
            full_name = f"{rng.choice(STAFF_FIRST_NAMES)} {rng.choice(self.names)}"
        known = email is not None
        if email is None:
            domain = _ascii(orgs[0].short_name if orgs else "stages").replace(" ", "-")[:30]
            base = _ascii(full_name).replace(" ", ".")
            email = f"{base}@{domain}.bench.test"
            n = 2
            while email in self.emails:
                email, n = f"{base}{n}@{domain}.bench.test", n + 1
        self.emails.add(email)
        self.staff += 1
        user_id = self.w.next_id("users")
        self.w.add("users", dict(
            id=user_id, email=email, full_name=full_name, password_hash=self.hashes[known],
            role=role, active=True, last_login_at=None,
            created_at=self.now - timedelta(days=rng.randint(30, HISTORY_DAYS)),
            session_epoch=0, feed_token=_token(rng),
        ))
        for org in orgs:
            self.w.add("user_organizations", dict(user_id=user_id, organization_id=org.id))
        return user_id

    def _password_hashes(self) -> dict[bool, str]:
        """Argon2 costs ~50 ms a hash: one for the known logins, one unusable for the rest."""
        from stages.auth.services import hash_password

        return {True: hash_password(BENCH_PASSWORD), False: hash_password(_token(self.rng))}

    def _paris_cluster(self) -> _Cluster:
        rng = random.Random(f"{self.seed}:paris")
        apcars = self._org("APCARS", "APCARS", OrganizationKind.ASSOCIATION,
                           "4 boulevard du Palais, 75001 Paris", "contact@apcars.example.org")
        scelles = self._org("Fondation Scelles", "Fondation Scelles", OrganizationKind.ASSOCIATION,
                            "14 rue Mondétour, 75001 Paris", "contact@scelles.example.org")
        authorities = [
            self._org("Parquet de Paris", "Parquet de Paris", OrganizationKind.PARQUET,
                      "Parvis du Tribunal de Paris, 75017 Paris"),
            self._org("Tribunal judiciaire de Paris", "TJ Paris", OrganizationKind.TRIBUNAL,
                      "Parvis du Tribunal de Paris, 75017 Paris"),
            self._org("SPIP de Paris", "SPIP Paris", OrganizationKind.SPIP,
                      "12-14 rue Charles Fourier, 75013 Paris"),
        ]
        venues = [
            self._venue(zone="Europe/Paris", **data) for data in PARIS_VENUES
        ]
        by_name = {org.name: org for org in (apcars, scelles, *authorities)}
        bench = {
            email: self._user(role, [by_name[scope]] if scope else [], name, email, rng)
            for email, name, role, scope in BENCH_ACCOUNTS
        }
        self.bench_ids = bench
        organizers = [bench[BENCH_ORGANIZER], self._user(Role.ORGANIZER, [apcars], rng=rng),
                      self._user(Role.ORGANIZER, [scelles], rng=rng)]
        apcars_pool = [bench[BENCH_FACILITATOR]] + [
            self._user(Role.FACILITATOR, [apcars], rng=rng) for _ in range(2)
        ]
        scelles_pool = [self._user(Role.FACILITATOR, [scelles], rng=rng) for _ in range(3)]
        lane = _Lane(venues, [apcars_pool, scelles_pool])
        return _Cluster("paris", [apcars, scelles], authorities, [lane], organizers,
                        [("Paris", "75017", "Paris", None)])

    def _other_clusters(self) -> list[_Cluster]:
        plan, rng = self.plan, self.rng
        cities = []
        remaining = plan.authorities - 3
        for city in CITIES:
            if remaining <= 0:
                break
            kinds = [OrganizationKind.PARQUET, OrganizationKind.TRIBUNAL, OrganizationKind.SPIP]
            cities.append((city, kinds[: min(3, remaining)]))
            remaining -= 3
        clusters = []
        for index in range(plan.associations):
            mine = cities[index :: plan.associations]
            first = mine[0][0]
            name = ASSOCIATION_NAMES[index % len(ASSOCIATION_NAMES)].format(first[0])
            association = self._org(
                name, _short(name), OrganizationKind.ASSOCIATION,
                f"{rng.randint(1, 90)} {rng.choice(STREETS)}, {first[1]} {first[0]}",
                f"contact@{_ascii(first[0]).replace(' ', '-')}-{index}.example.org",
            )
            authorities = []
            for (city, postal, dept, _zone), kinds in mine:
                for kind in kinds:
                    label = {"parquet": "Parquet de {}", "tribunal": "Tribunal judiciaire de {}",
                             "spip": "SPIP de {}"}[kind.value].format(city)
                    short = {"parquet": "Parquet {}", "tribunal": "TJ {}",
                             "spip": "SPIP {}"}[kind.value].format(city)
                    authorities.append(self._org(
                        label, short, kind, f"Palais de justice, {postal} {city}"))
            organizers = [self._user(Role.ORGANIZER, [association]) for _ in range(rng.randint(2, 3))]
            clusters.append(_Cluster(f"other-{index}", [association], authorities, [], organizers,
                                     [c for c, _ in mine]))
        self._other_venues(clusters)
        return clusters

    def _other_venues(self, clusters: list[_Cluster]) -> None:
        """Venues (lanes) shared out like the courses, each with two or three facilitators."""
        weights = [1 / (rank + 1) ** 0.7 for rank in range(len(clusters))]
        counts = [max(1, round(self.plan.venues * w / sum(weights))) for w in weights]
        names: set[str] = set()
        for cluster, count in zip(clusters, counts):
            for n in range(count):
                city, postal, _dept, zone = cluster.cities[n % len(cluster.cities)]
                kind, room = VENUE_KINDS[(n // len(cluster.cities)) % len(VENUE_KINDS)]
                name = kind.format(city)
                suffix = 2
                while name in names:
                    name, suffix = f"{kind.format(city)} ({suffix})", suffix + 1
                names.add(name)
                venue = self._venue(
                    name, f"{self.rng.randint(1, 120)} {self.rng.choice(STREETS)}", postal, city,
                    room, self.rng.randint(12, 20), zone or "Europe/Paris",
                    accessibility="Accès de plain-pied." if self.rng.random() < 0.7 else None,
                    opening_hours="Du lundi au vendredi, 9 h – 17 h",
                )
                pool = [self._user(Role.FACILITATOR, cluster.associations)
                        for _ in range(self.rng.randint(2, 3))]
                cluster.lanes.append(_Lane([venue], [pool]))

    def _admins(self) -> None:
        for _ in range(max(0, round(10 * self.plan.scale) - 1)):
            self._user(Role.ADMIN, [])

    def _liaisons(self, clusters: list[_Cluster]) -> None:
        """Whatever is left of the staff budget, spread over the authorities (at least one each)."""
        authorities = [a for c in clusters for a in c.authorities]
        budget = max(self.plan.staff - self.staff, len(authorities))
        # Index 0 is the Parquet de Paris, whose first liaison is the benchmark's login.
        for index in range(1, budget):
            self._user(Role.LIAISON, [authorities[index % len(authorities)]])

    # --- Scheduling --------------------------------------------------------------------------

    def _paris_days(self) -> list[tuple[int, list[date]]]:
        """Every three weeks on Thursdays, two days (Thursday, Friday) one time in four."""
        start = self.window[0] + timedelta(days=(PARIS_WEEKDAY - self.window[0].weekday()) % 7)
        slots = []
        index = 0
        while start + timedelta(days=PARIS_CADENCE * index) <= self.window[1]:
            day = start + timedelta(days=PARIS_CADENCE * index)
            days = [day, day + timedelta(days=1)] if index % 4 == 3 else [day]
            if any(d in self.holidays for d in days):
                days = [d + timedelta(days=7) for d in days]
            slots.append((index, days))
            index += 1
        return slots

    def _schedule(self, cluster: _Cluster) -> list[_Slot]:
        if cluster.key == "paris":
            lane = cluster.lanes[0]
            slots = self._paris_days()
            # Below scale 0.01, keep the courses nearest the reference date.
            slots.sort(key=lambda s: (abs((s[1][0] - self.today).days), s[0]))
            slots = sorted(slots[: cluster.sessions])
            return [
                _Slot(lane, lane.venues[index % 2], days, index,
                      random.Random(f"{self.seed}:paris:{index}"),
                      random.Random(f"{self.seed}:paris:{index}:people"))
                for index, days in slots
            ]
        rng = random.Random(f"{self.seed}:{cluster.key}")
        result = []
        first, last = self.window
        span = (last - first).days
        for number, lane in enumerate(cluster.lanes):
            count = cluster.sessions // len(cluster.lanes) + (
                1 if number < cluster.sessions % len(cluster.lanes) else 0
            )
            step = span / max(count, 1)
            free_from = first
            for i in range(count):
                wanted = first + timedelta(days=int((i + rng.uniform(0.1, 0.9)) * step))
                two_days = rng.random() < 0.25
                day = _next_workday(max(wanted, free_from), two_days, self.holidays)
                if day > last:
                    break
                days = [day, day + timedelta(days=1)] if two_days else [day]
                free_from = days[-1] + timedelta(days=2)  # a free day between two courses
                result.append(_Slot(lane, lane.venues[0], days, i, rng, rng))
        result.sort(key=lambda s: (s.start, s.venue.id))
        return result

    # --- Writing a cluster --------------------------------------------------------------------

    def _write_cluster(self, cluster: _Cluster) -> None:
        slots = self._schedule(cluster)
        self._former: list[int] = []  # people who may come back with a new measure
        for index, slot in enumerate(slots):
            self._write_session(cluster, slots, index, slot)
            self.progress(1)
        self._write_backlog(cluster, random.Random(f"{self.seed}:{cluster.key}:people"))

    def _write_session(self, cluster, slots, index, slot: _Slot) -> None:
        rng = slot.rng
        w = self.w
        slot.id = w.next_id("course_sessions")
        near = abs((slot.start - self.today).days) <= 60
        if slot.end < self.today - timedelta(days=14):
            slot.status = SessionStatus.CLOSED
        elif slot.end < self.today:
            slot.status = SessionStatus.HELD
        elif (slot.start - self.today).days > 180 and rng.random() < 0.15:
            slot.status = SessionStatus.DRAFT
        cancelled = not near and rng.random() < 0.03
        if cancelled:
            slot.status = SessionStatus.CANCELLED
        zone = slot.venue.zone
        # Parts and bookings.
        lane = slot.lane
        if len(lane.pools) == 1:  # two facilitators of the association, in turn
            pool = lane.pools[0]
            facilitators = [pool[2 * slot.number % len(pool)], pool[(2 * slot.number + 1) % len(pool)]]
        else:  # one of each co-running association
            facilitators = [pool[slot.number % len(pool)] for pool in lane.pools]
        active = not cancelled
        for day in slot.days:
            for start, end in (MORNING, AFTERNOON):
                part_id = w.next_id("session_parts")
                begins, ends = local_to_utc(day, start, zone), local_to_utc(day, end, zone)
                slot.parts.append((part_id, begins, ends))
        created = local_to_utc(slot.start, time(10), zone) - timedelta(days=rng.randint(60, 120))
        capacity = min(slot.venue.capacity, 16)
        organizer = cluster.organizers[0] if rng.random() < 0.7 else rng.choice(cluster.organizers)
        entrants = self._entrants(cluster, slots, index, slot, capacity)
        # Rescheduling frees the seat, as ``set_enrollment_status`` does.
        seats = sum(
            1 for _m, status, _o, moved in entrants if status in SEAT_HOLDING_STATUSES and not moved
        )
        w.add("course_sessions", dict(
            id=slot.id, title=TITLE, venue_id=slot.venue.id, status=slot.status,
            capacity=capacity, min_participants=5, fee_cents=rng.choice((0, 18000, 18000, 15000)),
            seats_taken=seats, starts_at=slot.parts[0][1], ends_at=slot.parts[-1][2],
            cancel_reason=("Salle indisponible : le stage est reporté." if cancelled else None),
            notes=None, closing_reminder_sent_at=None, bilan_reminder_sent_at=None,
            ical_sequence=1 if cancelled else 0, created_at=created,
            updated_at=created + timedelta(days=1), created_by_id=organizer,
        ))
        for part_id, begins, ends in slot.parts:
            w.add("session_parts", dict(id=part_id, session_id=slot.id, starts_at=begins,
                                        ends_at=ends, venue_id=slot.venue.id, is_active=active))
            for user_id in facilitators:
                w.add("facilitator_bookings", dict(
                    id=w.next_id("facilitator_bookings"), part_id=part_id, user_id=user_id,
                    starts_at=begins, ends_at=ends, is_active=active))
        for org in cluster.associations:
            w.add("session_organizations", dict(session_id=slot.id, organization_id=org.id))
        for user_id in facilitators:
            w.add("session_facilitators", dict(session_id=slot.id, user_id=user_id))
        if rng.random() < 0.1:
            w.add("session_changes", dict(
                id=w.next_id("session_changes"), session_id=slot.id,
                at=created + timedelta(days=rng.randint(1, 20)), user_id=organizer,
                summary=rng.choice((
                    "Horaires modifiés : début à 9 h 30 au lieu de 9 h.",
                    "Intervenant·es modifié·es.",
                    "Capacité modifiée : 16 places au lieu de 14.",
                )),
            ))
        self._write_entrants(cluster, slots, index, slot, entrants, facilitators, organizer, rng)

    def _entrants(self, cluster, slots, index, slot: _Slot, capacity: int) -> list:
        """(measure, status, outcome, moved to) of each person; rescheduled ones first.

        The course's own stream decides its size and everyone's statuses, whoever they are: a
        Paris course holds the same seats at every scale, only the people differ below 0.01.
        """
        rng = slot.rng
        status = slot.status
        if status == SessionStatus.DRAFT:
            wanted = 0
        elif slot.end < self.today:
            wanted = rng.randint(8, min(14, capacity))
        else:
            weeks = (slot.start - self.today).days / 7
            wanted = (rng.randint(8, min(14, capacity)) if weeks <= 4
                      else rng.randint(3, 9) if weeks <= 10 else rng.randint(0, 2))
        measures = list(slot.reserved)[:wanted] if wanted else []
        # Rescheduled people beyond the course's size (rare) wait for a later date.
        for leftover in slot.reserved[len(measures):]:
            self._finalize(leftover, None)
        while len(measures) < wanted:
            measures.append(self._new_measure(cluster, slot, slot.people, slot.people))
        entrants = []
        for measure in measures:
            outcome = _weighted(rng, OUTCOMES)
            if status == SessionStatus.CANCELLED:
                state = EnrollmentStatus.RESCHEDULED
            elif status == SessionStatus.CLOSED:
                state = outcome
            elif status == SessionStatus.HELD:
                state = rng.choice((EnrollmentStatus.SUMMONED, EnrollmentStatus.CONFIRMED))
            else:
                weeks = (slot.start - self.today).days / 7
                state = (rng.choice((EnrollmentStatus.SUMMONED, EnrollmentStatus.CONFIRMED))
                         if weeks <= 4 else EnrollmentStatus.SUMMONED if weeks <= 8
                         else EnrollmentStatus.ENROLLED)
            moved = None
            again = len(measure.enrollments) < 2
            excused_moves = rng.random() < 0.6
            if again and (state == EnrollmentStatus.RESCHEDULED or (
                state == EnrollmentStatus.ABSENT_EXCUSED and excused_moves
            )):
                moved = self._next_slot(slots, index)
            entrants.append((measure, state, outcome, moved))
        return entrants

    def _next_slot(self, slots: list[_Slot], index: int) -> _Slot | None:
        start = slots[index].start + timedelta(days=21)
        for slot in slots[index + 1 :]:
            if slot.start >= start and len(slot.reserved) < 3:
                return slot
        return None

    def _write_entrants(self, cluster, slots, index, slot: _Slot, entrants, facilitators,
                        organizer, rng) -> None:
        w = self.w
        zone = slot.venue.zone
        begins = slot.parts[0][1]
        closing = None
        if slot.status == SessionStatus.CLOSED:
            closing = local_to_utc(slot.end + timedelta(days=rng.randint(1, 5)), time(17), zone)
        bilans = {}
        for measure, state, outcome, moved in entrants:
            m = measure.row
            enrollment_id = w.next_id("enrollments")
            enrolled_at = min(begins - timedelta(days=rng.randint(20, 45)),
                              begins - timedelta(days=8))
            enrolled_at = max(enrolled_at, m["created_at"] + timedelta(hours=2))
            first_note = None
            if measure.last_at is not None:
                enrolled_at = max(enrolled_at, measure.last_at + timedelta(hours=1))
                first_note = "Reporté·e depuis un stage précédent."
            events = [(enrolled_at, None, EnrollmentStatus.ENROLLED, first_note)]
            summoned_at = confirmed_at = None
            reached = {EnrollmentStatus.SUMMONED, EnrollmentStatus.CONFIRMED,
                       *[o for o, _ in OUTCOMES]}
            if state in reached or (state == EnrollmentStatus.RESCHEDULED and slot.end < self.today):
                summoned_at = enrolled_at + timedelta(days=1)
                events.append((summoned_at, EnrollmentStatus.ENROLLED, EnrollmentStatus.SUMMONED, None))
                if state == EnrollmentStatus.CONFIRMED or (
                    state not in (EnrollmentStatus.SUMMONED, EnrollmentStatus.RESCHEDULED)
                    and rng.random() < 0.5
                ):
                    confirmed_at = begins - timedelta(days=rng.randint(2, 6))
                    events.append((confirmed_at, EnrollmentStatus.SUMMONED,
                                   EnrollmentStatus.CONFIRMED, None))
            final = state
            marks_outcome = None
            if slot.status in (SessionStatus.CLOSED, SessionStatus.HELD):
                marks_outcome = outcome
            if slot.status == SessionStatus.CLOSED:
                events.append((closing, events[-1][2], outcome, "Clôture du stage."))
                if moved is not None:
                    final = EnrollmentStatus.RESCHEDULED
                    events.append((closing + timedelta(days=1), outcome, final,
                                   "Report sur un autre stage."))
            elif state == EnrollmentStatus.RESCHEDULED:
                when = begins - timedelta(days=rng.randint(3, 10))
                events.append((max(when, events[-1][0]), events[-1][2], final,
                               "Stage annulé : report sur un autre stage."))
            old = closing is not None and closing < self.retention_cutoff
            enrollment = dict(
                id=enrollment_id, measure_id=m["id"], session_id=slot.id, status=final,
                waitlist_position=None, outcome_override_reason=None,
                convocation_sent_at=summoned_at, reminder_7d_sent_at=None,
                reminder_1d_sent_at=None, created_at=enrolled_at, created_by_id=organizer,
                updated_at=events[-1][0],
            )
            measure.enrollments.append(enrollment)
            measure.last_at = events[-1][0]
            for at, before, after, note in events:
                measure.tail.append(("enrollment_events", dict(
                    id=w.next_id("enrollment_events"), enrollment_id=enrollment_id, at=at,
                    user_id=organizer, from_status=before.value if before else None,
                    to_status=after.value, note=None if old else note,
                )))
            minutes = 0
            if marks_outcome is not None:
                minutes = self._marks(measure, enrollment_id, slot, marks_outcome, facilitators,
                                      organizer, rng, old)
            certificate_at = None
            if slot.status == SessionStatus.CLOSED and outcome == EnrollmentStatus.ATTENDED:
                certificate_at = closing + timedelta(days=rng.randint(0, 5), hours=1)
                if certificate_at < self.now and minutes > 0:
                    self._certificate(enrollment_id, certificate_at, minutes, organizer, rng)
                else:
                    certificate_at = None
            authority_id = m["authority_id"]
            delay = rng.randint(5, 30)
            if slot.status == SessionStatus.CLOSED:
                bilan = bilans.get(authority_id)
                if bilan is None:
                    sent = closing + timedelta(days=delay, hours=2)
                    bilan = bilans[authority_id] = dict(
                        id=w.next_id("bilans"), session_id=slot.id, authority_id=authority_id,
                        created_at=closing, sent_at=sent if sent < self.now else None,
                        sent_by_id=organizer if sent < self.now else None,
                    )
            self._audit_enrollment(measure, enrollment_id, enrolled_at, summoned_at, organizer)
            if moved is not None:
                moved.reserved.append(measure)
                continue
            # The measure's last enrollment: its status follows from the course's outcome.
            if slot.status == SessionStatus.CLOSED:
                status, changed, closed = MeasureStatus(outcome.value), closing, None
                if certificate_at:
                    status, changed = MeasureStatus.CERTIFICATE_ISSUED, certificate_at
                sent = bilans[authority_id]["sent_at"]
                if sent:
                    status, changed, closed = MeasureStatus.REPORTED, sent, sent
            elif state == EnrollmentStatus.RESCHEDULED:
                status, changed, closed = MeasureStatus.REFERRED, events[-1][0], None
            else:
                status, changed, closed = MeasureStatus(state.value), events[-1][0], None
            m.update(status=status, status_changed_at=changed, closed_at=closed)
            if slot.status != SessionStatus.CLOSED:
                m["payment_status"] = PaymentStatus.WAIVED if m["fee_cents"] == 0 else (
                    PaymentStatus.PAID if rng.random() < 0.4 else PaymentStatus.DUE)
            self._finalize(measure, closed)
        for bilan in bilans.values():
            w.add("bilans", bilan)
        self._audit_session(slot, facilitators, organizer, closing, len(entrants))

    def _marks(self, measure, enrollment_id, slot, outcome, facilitators, organizer, rng, old) -> int:
        parts = slot.parts
        if outcome == EnrollmentStatus.ATTENDED:
            statuses = [AttendanceStatus.LATE if rng.random() < 0.08 else AttendanceStatus.PRESENT
                        for _ in parts]
        elif outcome == EnrollmentStatus.PARTLY_ATTENDED:
            statuses = [AttendanceStatus.PRESENT] * (len(parts) - 1) + [AttendanceStatus.ABSENT]
        elif outcome == EnrollmentStatus.ABSENT_EXCUSED:
            statuses = [AttendanceStatus.EXCUSED] * len(parts)
        else:
            statuses = [AttendanceStatus.ABSENT] * len(parts)
        minutes = 0
        for (part_id, begins, ends), status in zip(parts, statuses):
            arrived = None
            if status == AttendanceStatus.LATE:
                arrived = begins + timedelta(minutes=rng.randint(10, 25))
            note = None
            if status == AttendanceStatus.LATE and not old and rng.random() < 0.3:
                note = "Retard signalé par téléphone (transports)."
            if status in PRESENT_STATUSES:
                minutes += int(((ends - (arrived or begins)).total_seconds()) // 60)
            mark_id = self.w.next_id("attendance_marks")
            saved = ends - timedelta(minutes=rng.randint(5, 60))
            by = facilitators[0]
            measure.tail.append(("attendance_marks", dict(
                id=mark_id, enrollment_id=enrollment_id, part_id=part_id, status=status,
                arrived_at=arrived, left_at=None, note=note, updated_at=saved, updated_by_id=by,
            )))
            measure.tail.append(("attendance_revisions", dict(
                id=self.w.next_id("attendance_revisions"), mark_id=mark_id, status=status,
                arrived_at=arrived, left_at=None, note=note, reason=None, changed_at=saved,
                changed_by_id=by,
            )))
        return minutes

    def _certificate(self, enrollment_id, issued_at, minutes, organizer, rng) -> None:
        revoked = rng.random() < 0.002
        self.certificates.append(dict(
            id=0, enrollment_id=enrollment_id, year=0, sequence=0, number="",
            verification_code="".join(rng.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH)),
            hours_attended_minutes=minutes, issued_at=issued_at.replace(microsecond=0),
            issued_by_id=organizer,
            revoked_at=issued_at + timedelta(days=3) if revoked else None,
            revocation_reason="Erreur sur l'identité : attestation remplacée." if revoked else None,
            sha256=None,
        ))

    def _finalize(self, measure: _Measure, closed: datetime | None) -> None:
        """Write the measure, then what hangs on it (enrollments, their events and marks)."""
        w = self.w
        w.add("legal_measures", measure.row)
        for enrollment in measure.enrollments:
            w.add("enrollments", enrollment)
        for table, row in measure.tail:
            w.add(table, row)
        if closed is not None and closed < self.now - timedelta(days=365):
            self._former.append(measure.participant_id)

    # --- People and measures -----------------------------------------------------------------

    def _new_measure(self, cluster: _Cluster, slot: _Slot | None, people_rng, rng,
                     decided: date | None = None) -> _Measure:
        frame, _, kind = _weighted_row(rng, FRAMES)
        candidates = [a for a in cluster.authorities if a.kind == kind] or cluster.authorities
        authority = rng.choice(candidates)
        if decided is None:
            decided = slot.start - timedelta(days=rng.randint(30, 150))
        facts = decided - timedelta(days=rng.randint(15, 120))
        deadline = decided + timedelta(days=rng.choice((120, 180, 180, 180, 240)))
        if rng.random() < 0.04 and self._former:
            participant_id = self._former.pop(rng.randrange(len(self._former)))
        else:
            participant_id = self._participant(cluster, people_rng, decided)
        fee = rng.choice(FEES)
        payer = Payer.PARTICIPANT if fee else Payer.WAIVED
        measure_id = self.w.next_id("legal_measures")
        paris = cluster.key == "paris"
        if paris or rng.random() < 0.5:  # the Paris format: year, day, number
            reference = (f"{decided.year % 100:02d}{rng.randint(100, 365):03d}"
                         f"{rng.randint(0, 999999):06d}")
        else:
            reference = f"{decided.year}/{rng.randint(1, 99999):05d}"
        created = local_to_utc(decided + timedelta(days=rng.randint(3, 15)), time(10, 30))
        row = dict(
            id=measure_id, participant_id=participant_id, frame=frame, authority_id=authority.id,
            handling_organization_id=cluster.associations[0].id, case_reference=reference,
            facts_date=facts, decision_date=decided,
            final_date=(None if frame == LegalFrame.ALTERNATIVE_POURSUITES
                        else decided + timedelta(days=10)),
            deadline=deadline, fee_cents=fee, payer=payer,
            payment_status=PaymentStatus.WAIVED if fee == 0 else PaymentStatus.PAID,
            certificate_recipient=authority.name, status=MeasureStatus.REFERRED,
            status_changed_at=created, withdrawal_reason=None, closed_at=None, import_key=None,
            created_at=created,
        )
        return _Measure(row, participant_id)

    def _participant(self, cluster: _Cluster, rng, decided: date) -> int:
        surname = rng.choice(self.names).upper()
        first = rng.choice(FIRST_NAMES)
        if rng.random() < 0.15:
            first = f"{first} {rng.choice(FIRST_NAMES)}"
        city, postal, _dept, _zone = rng.choice(cluster.cities)
        participant_id = self.w.next_id("participants")
        created = local_to_utc(decided + timedelta(days=rng.randint(3, 15)), time(10))
        self.w.add("participants", dict(
            id=participant_id, surname=surname, first_names=first,
            birth_date=date(rng.randint(1950, 2004), rng.randint(1, 12), rng.randint(1, 28)),
            birth_place=rng.choice(BIRTH_PLACES),
            address=f"{rng.randint(1, 180)} {rng.choice(STREETS)}",
            postal_code=postal if cluster.key != "paris" else f"750{rng.randint(1, 20):02d}",
            city=city,
            phone="06 " + " ".join(f"{rng.randint(10, 99)}" for _ in range(4)),
            email=(f"{_ascii(first.split()[0])}.{_ascii(surname)}{rng.randint(1, 99)}@example.org"
                   if rng.random() < 0.7 else None),
            search_key=search_key(surname, first), anonymized_at=None, created_at=created,
            updated_at=created,
        ))
        return participant_id

    def _write_backlog(self, cluster: _Cluster, rng) -> None:
        """Referrals waiting for a date, and old ones returned to the authority unserved."""
        measure_rng = random.Random(f"{self.seed}:{cluster.key}:backlog")
        for i in range(cluster.backlog):
            decided = self.today - timedelta(days=measure_rng.randint(5, 150))
            measure = self._new_measure(cluster, None, rng, measure_rng, decided=decided)
            row = measure.row
            if i % 6 == 0:
                row["deadline"] = self.today + timedelta(days=measure_rng.randint(5, 25))
            if i % 9 == 0:
                row["deadline"] = max(decided, self.today - timedelta(days=measure_rng.randint(1, 10)))
            row["payment_status"] = PaymentStatus.WAIVED if row["fee_cents"] == 0 else PaymentStatus.DUE
            self._finalize(measure, None)
            self._audit("measure.created", row["created_at"], None, "LegalMeasure", row["id"],
                        measure.participant_id)
        withdrawn = max(1, cluster.sessions // 5)
        for _ in range(withdrawn):
            decided = self.window[0] + timedelta(days=measure_rng.randint(0, HISTORY_DAYS - 400))
            measure = self._new_measure(cluster, None, rng, measure_rng, decided=decided)
            closed = local_to_utc(measure.row["deadline"] + timedelta(days=15), time(11))
            measure.row.update(
                status=MeasureStatus.WITHDRAWN, status_changed_at=closed, closed_at=closed,
                withdrawal_reason="Échéance dépassée sans stage possible : dossier renvoyé.",
            )
            self._finalize(measure, closed)

    # --- Attestations, audit, retention ------------------------------------------------------

    def _write_certificates(self) -> None:
        """Numbered per year in the order they were issued, nationally."""
        self.certificates.sort(key=lambda row: (row["issued_at"], row["enrollment_id"]))
        sequences = Counter()
        for row in self.certificates:
            year = _paris_year(row["issued_at"])
            sequences[year] += 1
            row.update(id=self.w.next_id("certificates"), year=year, sequence=sequences[year],
                       number=f"{year}-{sequences[year]:05d}")
            self.w.add("certificates", row)

    def _audit(self, action, at, user_id, object_type, object_id, participant_id=None, details=None):
        if at < self.audit_from or at > self.now:
            return
        self.w.add("audit_entries", dict(
            id=self.w.next_id("audit_entries"), at=at, user_id=user_id, action=action,
            object_type=object_type, object_id=object_id, participant_id=participant_id,
            ip="10.0.0.1", details=details,
        ))

    def _audit_enrollment(self, measure, enrollment_id, enrolled_at, summoned_at, organizer):
        pid = measure.participant_id
        self._audit("participant.viewed", enrolled_at - timedelta(minutes=5), organizer,
                    "Participant", pid, pid)
        self._audit("enrollment.created", enrolled_at, organizer, "Enrollment", enrollment_id, pid)
        if summoned_at:
            self._audit("convocation.sent", summoned_at, organizer, "Enrollment", enrollment_id, pid)

    def _audit_session(self, slot: _Slot, facilitators, organizer, closing, people) -> None:
        if not people:
            return
        begins = slot.parts[0][1]
        self._audit("session.participants_viewed", begins - timedelta(days=3), organizer,
                    "CourseSession", slot.id, details=f"{people} personnes")
        if slot.status in (SessionStatus.HELD, SessionStatus.CLOSED):
            self._audit("roster.downloaded", begins - timedelta(hours=1), facilitators[0],
                        "CourseSession", slot.id, details=f"{people} personnes")
            for part_id, _b, ends in slot.parts:
                self._audit("attendance.recorded", ends - timedelta(minutes=10), facilitators[0],
                            "SessionPart", part_id, details=f"{people} présence(s)")
        if closing:
            self._audit("session.closed", closing, organizer, "CourseSession", slot.id,
                        details=f"{people} personnes")

    def _apply_retention(self) -> None:
        """What the daily purge job would have done: erase identities past retention."""
        from stages.enrollment.models import LegalMeasure, Participant

        cutoff = self.retention_cutoff

        expired = (
            sa.select(LegalMeasure.participant_id)
            .group_by(LegalMeasure.participant_id)
            .having(sa.func.count(LegalMeasure.closed_at) == sa.func.count())
            .having(sa.func.max(LegalMeasure.closed_at) < cutoff)
        )
        result = db.session.execute(
            sa.update(Participant)
            .where(Participant.id.in_(expired))
            .values(surname="", first_names="", birth_date=None, birth_place=None, address=None,
                    postal_code=None, city=None, phone=None, email=None, search_key="",
                    anonymized_at=self.now, updated_at=self.now)
            .execution_options(synchronize_session=False)
        )
        self.w.counts["participants anonymized"] = result.rowcount
        db.session.execute(
            sa.update(LegalMeasure)
            .where(LegalMeasure.participant_id.in_(
                sa.select(Participant.id).where(Participant.anonymized_at.is_not(None))))
            .values(case_reference="", certificate_recipient=None, withdrawal_reason=None)
            .execution_options(synchronize_session=False)
        )


# ---------------------------------------------------------------------------------------------
# Small helpers


def _holidays(first_year: int, last_year: int) -> set[date]:
    import holidays

    return set(holidays.France(years=range(first_year, last_year + 1)))


def _next_workday(day: date, two_days: bool, closed: set[date]) -> date:
    """The first day from ``day`` that is a weekday and not a holiday (both days for two)."""
    while True:
        days = [day, day + timedelta(days=1)] if two_days else [day]
        if all(d.weekday() < 5 and d not in closed for d in days):
            return day
        day += timedelta(days=1)


def _weighted(rng: random.Random, choices):
    return rng.choices([c[0] for c in choices], weights=[c[1] for c in choices])[0]


def _weighted_row(rng: random.Random, rows):
    return rng.choices(rows, weights=[row[1] for row in rows])[0]


def _ascii(text: str) -> str:
    """Lower-case ASCII for e-mail addresses: « Léa Fabre » → « lea fabre »."""
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in plain if not unicodedata.combining(c)).lower()
    return "".join(c if c.isalnum() or c in " .-" else "-" for c in plain).strip()


def _short(name: str) -> str:
    return name if len(name) <= 60 else name[:57] + "…"


def _token(rng: random.Random) -> str:
    """What ``secrets.token_urlsafe(32)`` gives, drawn from the seeded generator."""
    return base64.urlsafe_b64encode(rng.randbytes(32)).rstrip(b"=").decode()


def _paris_year(moment: datetime) -> int:
    return to_local(moment, "Europe/Paris").year


# ---------------------------------------------------------------------------------------------
# What a benchmark opens


@dataclass(frozen=True)
class BenchTargets:
    """Real objects of a generated database, the same kind at every scale (the Paris cluster)."""

    session_id: int  # a busy course, held or scheduled, this month if there is one
    part_id: int  # its first half-day
    participant_id: int  # one of its people (the one with the most measures)
    search_prefix: str  # the first letters of that person's name, as a liaison would type them
    certificate_code: str  # a valid attestation's code, as its QR code writes it
    organizer_token: str  # the benchmark organizer's calendar feed token
    enroll_session_id: int  # a scheduled course with at least 12 free seats
    measure_ids: tuple[int, ...]  # 12 referrals waiting for a course, in the organizer's scope
    busiest_token: str  # feed token of an organizer of the association with the most courses


def bench_targets() -> BenchTargets:
    """Pick the benchmark's objects in a database made by ``generate``."""
    from stages.auth.models import User, user_organizations
    from stages.certificates.models import Certificate
    from stages.certificates.services import format_code
    from stages.enrollment.models import Enrollment, LegalMeasure, Participant
    from stages.enrollment.services import ACTIVE_STATUSES
    from stages.scheduling.models import (
        CourseSession, Organization, SessionPart, session_organizations,
    )
    from stages.timeutil import now_utc

    def one(query):
        value = db.session.scalar(query)
        if value is None:
            raise DomainError("Base non générée par « flask stages generate » : objet introuvable.")
        return value

    apcars = one(sa.select(Organization.id).where(Organization.name == "APCARS"))
    paris = CourseSession.id.in_(
        sa.select(session_organizations.c.session_id)
        .where(session_organizations.c.organization_id == apcars)
    )
    now = now_utc()
    this_month = to_local(now).strftime("%Y-%m")
    candidates = db.session.execute(
        sa.select(CourseSession.id, CourseSession.starts_at).where(
            paris,
            CourseSession.status.in_([SessionStatus.HELD, SessionStatus.SCHEDULED]),
            CourseSession.seats_taken >= 8,
        )
    ).all()
    if not candidates:
        raise DomainError("Aucun stage parisien tenu ou programmé avec au moins 8 personnes.")
    session_id = min(
        candidates,
        key=lambda row: (to_local(row.starts_at).strftime("%Y-%m") != this_month,
                         abs((row.starts_at - now).total_seconds()), row.id),
    ).id
    part_id = one(sa.select(SessionPart.id).where(SessionPart.session_id == session_id)
                  .order_by(SessionPart.starts_at).limit(1))
    measures_per_person = (
        sa.select(sa.func.count()).where(LegalMeasure.participant_id == Participant.id)
        .correlate(Participant).scalar_subquery()
    )
    person = db.session.execute(
        sa.select(Participant.id, Participant.search_key)
        .join(LegalMeasure, LegalMeasure.participant_id == Participant.id)
        .join(Enrollment, Enrollment.measure_id == LegalMeasure.id)
        .where(Enrollment.session_id == session_id, Enrollment.status.in_(ACTIVE_STATUSES))
        .order_by(measures_per_person.desc(), Participant.id)
        .limit(1)
    ).one()
    code = one(
        sa.select(Certificate.verification_code)
        .join(Enrollment, Enrollment.id == Certificate.enrollment_id)
        .where(Enrollment.session_id.in_(sa.select(CourseSession.id).where(paris)),
               Certificate.revoked_at.is_(None))
        .order_by(Certificate.issued_at.desc(), Certificate.id.desc())
        .limit(1)
    )
    organizer_token = one(sa.select(User.feed_token).where(User.email == BENCH_ORGANIZER))
    enroll_session_id = one(
        sa.select(CourseSession.id).where(
            paris,
            CourseSession.status == SessionStatus.SCHEDULED,
            CourseSession.starts_at > now + timedelta(days=7),
            CourseSession.capacity - CourseSession.seats_taken >= 12,
        ).order_by(CourseSession.starts_at).limit(1)
    )
    measure_ids = tuple(db.session.scalars(
        sa.select(LegalMeasure.id).where(
            LegalMeasure.handling_organization_id == apcars,
            LegalMeasure.status.in_([MeasureStatus.REFERRED, MeasureStatus.ABSENT_EXCUSED]),
            LegalMeasure.id.not_in(
                sa.select(Enrollment.measure_id).where(Enrollment.status.in_(ACTIVE_STATUSES))
            ),
        ).order_by(LegalMeasure.deadline.desc(), LegalMeasure.id).limit(12)
    ))
    if len(measure_ids) < 12:
        raise DomainError("Moins de 12 personnes en attente d'un stage à Paris.")
    busiest = one(
        sa.select(session_organizations.c.organization_id)
        .group_by(session_organizations.c.organization_id)
        .order_by(sa.func.count().desc(), session_organizations.c.organization_id)
        .limit(1)
    )
    busiest_token = one(
        sa.select(User.feed_token)
        .join(user_organizations, user_organizations.c.user_id == User.id)
        .where(user_organizations.c.organization_id == busiest, User.role == Role.ORGANIZER)
        .order_by(User.id).limit(1)
    )
    return BenchTargets(
        session_id=session_id, part_id=part_id, participant_id=person.id,
        search_prefix=person.search_key[:3], certificate_code=format_code(code),
        organizer_token=organizer_token, enroll_session_id=enroll_session_id,
        measure_ids=measure_ids, busiest_token=busiest_token,
    )
