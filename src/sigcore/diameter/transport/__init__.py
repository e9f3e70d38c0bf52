"""Transports beyond plain TCP for the Diameter node: SCTP (multi-homed, streams, PPID 46) and TLS.

See docs/transports.md. ``configure(settings, cfg)`` wires them from the YAML config; tests and
embedders can put ``SctpListener``/``TlsListener`` in ``NodeSettings.listeners`` and a ``Dialer`` in
``NodeSettings.dialer`` directly.
"""

from sigcore.diameter.transport.endpoints import Dialer, SctpListener, TlsListener, configure

__all__ = ["Dialer", "SctpListener", "TlsListener", "configure"]
