"""Metrics: cheap in-process counters, flushed to Redis for a total over all processes, exposed as
Prometheus text (``/metrics``) and over SNMP (SIGCORE-MIB). See docs/operations.md.

Other areas record through the functions below (into the process-wide ``REGISTRY``).
"""

from sigcore.metrics.families import (
    REGISTRY,
    auth_failure,
    record_db,
    set_active_subscribers,
    vectors_issued,
)
from sigcore.metrics.registry import Registry

__all__ = ["REGISTRY", "Registry", "auth_failure", "record_db", "set_active_subscribers", "vectors_issued"]
