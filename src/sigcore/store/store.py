"""`Store`: the one object through which the HSS, the API and the CLI read and write subscribers."""

from __future__ import annotations

from sigcore.config import DatabaseConfig
from sigcore.store.crypto import load_kek
from sigcore.store.errors import KeyUnavailable
from sigcore.store.serving import ServingRepository


class Store(ServingRepository):
    """The subscriber store: one engine, one key box, synchronous methods safe to call from any thread.

    Built from parts, one module each: APN profiles (`apns`), subscribers (`subscribers`), the AUC's keys
    and SQNs (`auc`), serving state and roaming rules (`serving`). The S6a handlers call it from a worker
    thread; every method opens and finishes its own short transaction.

    ``Store(url, kek)`` needs the schema at head (`sigcore.store.migrate`), or ``auto_migrate=True``.
    Without a KEK (``kek=None``) everything works except reading or writing keys, which raises
    `KeyUnavailable` with a hint on how to configure one.
    """

    @classmethod
    def from_config(cls, database: DatabaseConfig, *, auto_migrate: bool = False) -> Store:
        """A store for the ``database`` config section; a missing KEK is reported when keys are needed."""
        try:
            kek: bytes | None = load_kek(database.key_file, database.key_env)
            error = None
        except KeyUnavailable as err:
            kek, error = None, str(err)
        return cls(database.url, kek, pool_size=database.pool_size, auto_migrate=auto_migrate, kek_error=error)
