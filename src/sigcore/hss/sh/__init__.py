"""Sh (TS 29.328/29.329): the application server interface: UDR, PUR, SNR answered; PNR sent."""
