"""Sessions hold their reply claim and latest reply id

Revision ID: 8b1aa48c7c87
Revises: 4c043f6ebe83
Create Date: 2026-12-01 20:17:36.225243

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8b1aa48c7c87'
down_revision = '4c043f6ebe83'
branch_labels = None
depends_on = None


def upgrade():
    # Both nullable: no session has a reply yet, and NULL is "no live reply".
    with op.batch_alter_table('solve_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reply_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('reply_claimed_until', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('solve_sessions', schema=None) as batch_op:
        batch_op.drop_column('reply_claimed_until')
        batch_op.drop_column('reply_id')
