"""The sans-IO Diameter stack: codec, dictionary, peer state machine, and a thin asyncio node.

Nothing in this package outside ``sigcore.diameter.aio`` touches a socket or a clock.
"""

from sigcore.diameter.avp import Avp
from sigcore.diameter.dictionary import DICTIONARY, Dictionary
from sigcore.diameter.errors import DecodeError, DiameterError
from sigcore.diameter.message import Message, peek_header

__all__ = ["DICTIONARY", "Avp", "DecodeError", "DiameterError", "Dictionary", "Message", "peek_header"]
