"""Errors of the store. Each maps to one API status (404, 409, 422) and names what is wrong."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every error the store raises on purpose."""


class NotFound(StoreError, LookupError):
    """The subscriber, APN profile or rule does not exist."""


class Conflict(StoreError):
    """A unique value is taken (IMSI, MSISDN, APN name) or a profile is still in use."""


class InvalidValue(StoreError, ValueError):
    """A field has a value the schema cannot hold; the message names the field."""


class KeyUnavailable(StoreError):
    """No key-encryption key is configured, or it cannot decrypt the stored secrets."""


class DatabaseUnavailable(StoreError):
    """The database cannot be opened: an SQLite path that is a directory or unwritable, a server that refuses."""


class SchemaNotCurrent(StoreError):
    """The database is not migrated to the revision this code expects."""


class SqnContention(StoreError):
    """The SQN compare-and-set lost too many races in a row (a storm of AIRs for one IMSI)."""
