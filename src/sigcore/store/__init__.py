"""Subscriber store: SQLAlchemy 2 models, Alembic migrations and the `Store` repository (see docs/store.md)."""

from sigcore.store.crypto import create_key_file, load_kek
from sigcore.store.errors import (
    Conflict,
    InvalidValue,
    KeyUnavailable,
    NotFound,
    SchemaNotCurrent,
    SqnContention,
    StoreError,
)
from sigcore.store.migrate import migrate
from sigcore.store.records import (
    AddedSubscriber,
    ApnAssignment,
    ApnProfile,
    ApnRequest,
    AuthAlgorithm,
    AuthMaterial,
    NetworkAccessMode,
    PdnType,
    RoamingPolicy,
    RoamingRule,
    ServingNode,
    ServingState,
    Subscriber,
    SubscriberFilter,
    SubscriberStatus,
)
from sigcore.store.store import Store

__all__ = [
    "AddedSubscriber", "ApnAssignment", "ApnProfile", "ApnRequest", "AuthAlgorithm", "AuthMaterial", "Conflict",
    "InvalidValue", "KeyUnavailable", "NetworkAccessMode", "NotFound", "PdnType", "RoamingPolicy", "RoamingRule",
    "SchemaNotCurrent", "ServingNode", "ServingState", "SqnContention", "Store", "StoreError", "Subscriber",
    "SubscriberFilter", "SubscriberStatus", "create_key_file", "load_kek", "migrate",
]
