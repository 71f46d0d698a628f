"""What the shipped app sets on sessions (updated_at, committed_at, reminder_time, locale),
and the day of each account's last device removal

Revision ID: 4c043f6ebe83
Revises: 8212af9cb821
Create Date: 2026-12-01 20:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '4c043f6ebe83'
down_revision = '8212af9cb821'
branch_labels = None
depends_on = None


def upgrade():
    # updated_at is added nullable, filled from the session's last recorded move, then required.
    with op.batch_alter_table('solve_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('committed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reminder_time', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('locale', sa.String(length=35), nullable=True))
    op.execute("UPDATE solve_sessions SET updated_at = last_active_at")
    with op.batch_alter_table('solve_sessions', schema=None) as batch_op:
        batch_op.alter_column(
            'updated_at', existing_type=sa.DateTime(timezone=True), nullable=False
        )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('device_removed_on', sa.Date(), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('device_removed_on')
    with op.batch_alter_table('solve_sessions', schema=None) as batch_op:
        batch_op.drop_column('locale')
        batch_op.drop_column('reminder_time')
        batch_op.drop_column('committed_at')
        batch_op.drop_column('updated_at')
