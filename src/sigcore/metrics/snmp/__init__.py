"""The SNMP view of the metrics: the SIGCORE-MIB object tree (``oids``) and a pysnmp agent (``agent``)."""
