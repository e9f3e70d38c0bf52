"""SIM/USIM access over PC/SC: APDUs with status-word handling, file decoders and the identity reader."""

from sigcore.toolkit.sim.apdu import ApduError, Card, CardIOError, Command
from sigcore.toolkit.sim.reader import SimReport, read_path, read_sim
from sigcore.toolkit.sim.sw import explain

__all__ = ["ApduError", "Card", "CardIOError", "Command", "SimReport", "explain", "read_path", "read_sim"]
