"""Telecom toolkit: small, spec-checked codecs (TBCD, PLMN, GTPv2 F-TEID), SIM access and TZSP capture.

The codecs are pure functions with no I/O so the HSS and the CLI share one tested implementation.
"""
