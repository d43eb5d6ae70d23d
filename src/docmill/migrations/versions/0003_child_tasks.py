"""child tasks (e-mail attachments) and longer mime types (Office formats)

Revision ID: 0003_child_tasks
Revises: 0003_webhooks
Create Date: 2025-12-01 23:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_child_tasks"
down_revision = "0003_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.alter_column(
            "mime", existing_type=sa.String(length=50), type_=sa.String(length=127)
        )
        batch_op.add_column(sa.Column("parent_id", sa.String(length=36), nullable=True))
        batch_op.create_foreign_key(
            "fk_tasks_parent_id", "tasks", ["parent_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_index("ix_tasks_parent_id", ["parent_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_parent_id")
        batch_op.drop_constraint("fk_tasks_parent_id", type_="foreignkey")
        batch_op.drop_column("parent_id")
        batch_op.alter_column(
            "mime", existing_type=sa.String(length=127), type_=sa.String(length=50)
        )
