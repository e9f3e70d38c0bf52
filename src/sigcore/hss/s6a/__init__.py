"""S6a/S6d (TS 29.272): the MME/SGSN interface: AIR, ULR, PUR, NOR answered; CLR, IDR, DSR sent."""
