"""Programme of each half-day (issue 19): an association's catalogue of modules, the modules of
each half-day, outside speakers and their bookings; no speaker booked twice at once, refused by
the database (exclusion constraint on PostgreSQL, triggers on SQLite, as migration 0002).

Each association gets the default catalogue (the décret's three contents and the usual optional
ones). Courses already scheduled stay so: the programme rule applies to the transition only.

Revision ID: 0031_programme
Revises: 0030_evaluation
"""
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0031_programme"
down_revision = "0030_evaluation"
branch_labels = None
depends_on = None

TOPICS = ("realite_prostitution", "marchandisation_corps", "responsabilite_acheteur", "loi_2016", "sante",
          "temoignage", "autre")
SPEAKER_KINDS = ("survivante", "medecin", "police", "magistrat", "avocat", "travailleur_social", "autre")
BOOKING_STATUSES = ("requested", "confirmed", "declined")

# A copy of stages/scheduling/programme/defaults.py as it was when this migration was written.
DEFAULT_CATALOGUE = (
    ("Cadre du stage et loi du 13 avril 2016", 45, 1, ("loi_2016",),
     "Présentation du stage, de son cadre judiciaire et de la loi visant à renforcer la lutte contre le "
     "système prostitutionnel."),
    ("La réalité de la prostitution", 90, 2, ("realite_prostitution",),
     "Les personnes prostituées, les parcours, les réseaux et la traite des êtres humains."),
    ("La marchandisation du corps", 90, 3, ("marchandisation_corps",),
     "Le corps humain n'est pas une marchandise : dignité, consentement et violence."),
    ("La responsabilité pénale et civile de l'acheteur", 90, 4, ("responsabilite_acheteur",),
     "L'infraction d'achat d'un acte sexuel, les peines encourues, la récidive et la réparation due aux "
     "victimes."),
    ("Santé et risques sanitaires", 60, 5, ("sante",),
     "Les risques pour la santé des personnes prostituées et des acheteurs."),
    ("Bilan et échanges", 30, 6, (), "Retour sur le stage avec les stagiaires."),
    ("Témoignage d'une personne survivante de la prostitution", 60, None, ("temoignage", "realite_prostitution"),
     "Le témoignage d'une personne sortie de la prostitution."),
)

SQLITE_TRIGGERS = {"speaker_bookings": ("speaker_id", "speaker_overlap")}


def _check(values):
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade():
    op.create_table(
        "programme_modules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("default_position", sa.Integer(), nullable=True),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("duration_minutes >= 5 AND duration_minutes <= 360",
                           name=op.f("ck_programme_modules_duration_range")),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"],
                                name=op.f("fk_programme_modules_organization_id_organizations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programme_modules")),
        sa.UniqueConstraint("organization_id", "title", name=op.f("uq_programme_modules_organization_id_title")),
    )
    op.create_table(
        "programme_module_topics",
        sa.Column("module_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.Enum(*TOPICS, name="programme_topic", native_enum=False, create_constraint=True,
                                   length=31), nullable=False),
        sa.ForeignKeyConstraint(["module_id"], ["programme_modules.id"],
                                name=op.f("fk_programme_module_topics_module_id_programme_modules"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("module_id", "topic", name=op.f("pk_programme_module_topics")),
    )
    op.create_table(
        "programme_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("module_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=True),
        sa.Column("end_time", sa.Time(), nullable=True),
        sa.CheckConstraint(
            "(start_time IS NULL AND end_time IS NULL) OR "
            "(start_time IS NOT NULL AND end_time IS NOT NULL AND end_time > start_time)",
            name=op.f("ck_programme_items_times_pair"),
        ),
        sa.CheckConstraint("position >= 0", name=op.f("ck_programme_items_position_positive")),
        sa.ForeignKeyConstraint(["module_id"], ["programme_modules.id"],
                                name=op.f("fk_programme_items_module_id_programme_modules")),
        sa.ForeignKeyConstraint(["part_id"], ["session_parts.id"],
                                name=op.f("fk_programme_items_part_id_session_parts"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programme_items")),
    )
    op.create_index("ix_programme_items_part_id_position", "programme_items", ["part_id", "position"])
    op.create_index("ix_programme_items_module_id", "programme_items", ["module_id"])
    op.create_table(
        "speakers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.Enum(*SPEAKER_KINDS, name="speaker_kind", native_enum=False, create_constraint=True,
                                  length=26), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=30), nullable=True),
        sa.Column("fee_cents", sa.Integer(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("fee_cents >= 0 AND fee_cents <= 1000000", name=op.f("ck_speakers_fee_range")),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"],
                                name=op.f("fk_speakers_organization_id_organizations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_speakers")),
    )
    op.create_index("ix_speakers_organization_id_full_name", "speakers", ["organization_id", "full_name"])
    op.create_table(
        "speaker_bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("speaker_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.Enum(*BOOKING_STATUSES, name="speaker_booking_status", native_enum=False,
                                    create_constraint=True, length=17), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_speaker_bookings_end_after_start")),
        sa.ForeignKeyConstraint(["item_id"], ["programme_items.id"],
                                name=op.f("fk_speaker_bookings_item_id_programme_items"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["speaker_id"], ["speakers.id"], name=op.f("fk_speaker_bookings_speaker_id_speakers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_speaker_bookings")),
        sa.UniqueConstraint("item_id", name=op.f("uq_speaker_bookings_item_id")),
    )
    op.create_index("ix_speaker_bookings_speaker_id_starts_at", "speaker_bookings", ["speaker_id", "starts_at"])

    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE speaker_bookings ADD CONSTRAINT ex_speaker_bookings_overlap "
            "EXCLUDE USING gist (speaker_id WITH =, tstzrange(starts_at, ends_at) WITH &&) "
            "WHERE (is_active)"
        )
    elif dialect == "sqlite":
        for table, (column, message) in SQLITE_TRIGGERS.items():
            for event in ("INSERT", "UPDATE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_overlap_{event.lower()} BEFORE {event} ON {table} "
                    f"WHEN NEW.is_active AND EXISTS (SELECT 1 FROM {table} o "
                    f"WHERE o.{column} = NEW.{column} AND o.is_active AND o.id IS NOT NEW.id "
                    f"AND o.starts_at < NEW.ends_at AND o.ends_at > NEW.starts_at) "
                    f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
                )
    _seed_default_catalogues()


def _seed_default_catalogues():
    """The default catalogue for every association already there (new ones get it from the app)."""
    now = datetime.now(timezone.utc)
    bind = op.get_bind()
    for title, minutes, position, topics, description in DEFAULT_CATALOGUE:
        bind.execute(
            sa.text(
                "INSERT INTO programme_modules (organization_id, title, duration_minutes, description, "
                "default_position, created_at) SELECT id, :title, :minutes, :description, :position, :now "
                "FROM organizations WHERE kind = 'association'"
            ),
            dict(title=title, minutes=minutes, description=description, position=position, now=now),
        )
        for topic in topics:
            bind.execute(
                sa.text("INSERT INTO programme_module_topics (module_id, topic) "
                        "SELECT id, :topic FROM programme_modules WHERE title = :title"),
                dict(topic=topic, title=title),
            )


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        for table in SQLITE_TRIGGERS:
            for event in ("insert", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_overlap_{event}")
    op.drop_index("ix_speaker_bookings_speaker_id_starts_at", table_name="speaker_bookings")
    op.drop_table("speaker_bookings")
    op.drop_index("ix_speakers_organization_id_full_name", table_name="speakers")
    op.drop_table("speakers")
    op.drop_index("ix_programme_items_module_id", table_name="programme_items")
    op.drop_index("ix_programme_items_part_id_position", table_name="programme_items")
    op.drop_table("programme_items")
    op.drop_table("programme_module_topics")
    op.drop_table("programme_modules")
