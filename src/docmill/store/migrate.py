"""Schema upgrades through Alembic (`docmill db upgrade`; `serve` upgrades at start)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "docmill:migrations")
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Upgrade the schema to `revision`. Blocking: call it from a thread in async code."""
    command.upgrade(alembic_config(database_url), revision)


def make_revision(database_url: str, message: str) -> None:
    """Autogenerate a revision against the models (a developer tool)."""
    command.revision(alembic_config(database_url), message=message, autogenerate=True)
