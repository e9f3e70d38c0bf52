"""S13/S13' (TS 29.272 §6): the MME/SGSN asks the EIR about a mobile equipment (ECR/ECA)."""
