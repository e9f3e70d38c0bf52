"""Cx/Dx (TS 29.228/29.229): the I-/S-CSCF interface: UAR, MAR, SAR, LIR answered; RTR, PPR sent."""
