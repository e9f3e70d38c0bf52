"""SLh (TS 29.173): the GMLC asks which nodes serve a subscriber (RIR/RIA)."""
