"""Calendar feed cache: the last body built for each user's feed, shared by every worker.

``calendar_feed_cache`` holds one row per feed (user, kind, target): its body, gzipped, and the
key it was built for; the feed view serves it while the key holds and replaces it otherwise. The retention purge
deletes the rows that can no longer be served (see ``stages.calendar_feeds.services``).

Revision ID: 0016_feed_cache
Revises: 0015_calendar_identity
"""
import sqlalchemy as sa
from alembic import op

revision = "0016_feed_cache"
down_revision = "0015_calendar_identity"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "calendar_feed_cache",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("target_id", sa.Integer(), server_default="0", nullable=False),
        sa.Column("cache_key", sa.String(length=64), nullable=False),
        sa.Column("body_gzip", sa.LargeBinary(), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_calendar_feed_cache_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_feed_cache")),
        sa.UniqueConstraint("user_id", "kind", "target_id", name=op.f("uq_calendar_feed_cache_user_id_kind_target_id")),
    )
    op.create_index("ix_calendar_feed_cache_built_at", "calendar_feed_cache", ["built_at"])


def downgrade():
    op.drop_index("ix_calendar_feed_cache_built_at", table_name="calendar_feed_cache")
    op.drop_table("calendar_feed_cache")
