"""Shared fixtures. One import line per fixture module keeps merges trivial."""

from support.services import (  # noqa: F401  (fixtures: real database servers)
    mariadb_server,
    mariadb_url,
    postgres_server,
    postgres_url,
    redis_server,
)
