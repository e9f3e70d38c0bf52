"""sigcore: a Python signalling core for 4G/IMS networks on one sans-IO Diameter stack."""

__version__ = "0.1.0"
