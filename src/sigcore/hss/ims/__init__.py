"""IMS HSS business rules, free of Diameter: registration state per IMPU, S-CSCF assignment, the Cx and
Sh XML documents. `sigcore.hss.cx.handlers` and `sigcore.hss.sh.handlers` translate between these and the wire."""
