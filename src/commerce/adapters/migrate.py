"""`livebuy db upgrade`: Alembic migrations shipped inside the package."""

from pathlib import Path

from alembic import command
from alembic.config import Config

import migrations


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Brings the schema to `revision`; synchronous (Alembic runs its own event loop)."""
    command.upgrade(alembic_config(database_url), revision)
