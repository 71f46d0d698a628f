"""Pending password resets: one per account, the code kept only as a keyed hash

Revision ID: 5c1d2e7a9b40
Revises: f506189a90f0
Create Date: 2026-12-01 20:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5c1d2e7a9b40'
down_revision = 'f506189a90f0'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('password_resets',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_password_resets_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_password_resets'))
    )


def downgrade():
    op.drop_table('password_resets')
