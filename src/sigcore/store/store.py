"""`Store`: the one object through which the HSS, the API and the CLI read and write subscribers."""

from __future__ import annotations

from typing import Literal

from sigcore.config import DatabaseConfig
from sigcore.store.errors import KeyUnavailable
from sigcore.store.keysource import configured_source, create_default_key, missing_key_message
from sigcore.store.serving import ServingRepository

#: How a command needs the KEK: ``optional`` (reads only: a missing or wrong key fails only key access),
#: ``required`` (refuse to open without the database's key), ``create`` (as required, but with nothing
#: configured and no key check in the database, create the default key file first).
KeyNeed = Literal["optional", "required", "create"]


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
    def from_config(cls, database: DatabaseConfig, *, auto_migrate: bool = False, key: KeyNeed = "optional"
                    ) -> Store:
        """A store for the ``database`` config section, with its KEK as `key` says (see `KeyNeed`)."""
        try:
            source = configured_source(database)
        except KeyUnavailable:
            if key != "optional":
                raise
            source = None
        if source is None and key == "create":
            keyless = cls(database.url, None, pool_size=database.pool_size, auto_migrate=auto_migrate)
            try:
                if keyless.key_check() is not None:  # sealed under a key we cannot find: never make another
                    raise KeyUnavailable(missing_key_message(database) + "; the stored secrets need the key "
                                         "they were sealed under")
            finally:
                keyless.close()
            source = create_default_key(database)
        if source is None:
            if key == "required":
                raise KeyUnavailable(missing_key_message(database))
            return cls(database.url, None, pool_size=database.pool_size, auto_migrate=auto_migrate,
                       kek_error=missing_key_message(database))
        try:
            kek = source.read()
            return cls(database.url, kek, pool_size=database.pool_size, auto_migrate=auto_migrate,
                       key_source=source.describe, key_reload=source.reread)
        except KeyUnavailable as err:
            if key != "optional":
                raise
            return cls(database.url, None, pool_size=database.pool_size, auto_migrate=auto_migrate,
                       kek_error=str(err))
