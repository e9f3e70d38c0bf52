"""The authentication centre: Milenage, authentication vectors, SQN management. Pure: no I/O, no DB.

The S6a/S6d and Cx handlers call these with the subscriber's K/OPc/AMF and the SQN they read inside the
transaction that will store the new SQN; see docs/auc.md.
"""

from .kdf import hmac_sha256, kasme, kdf
from .milenage import STANDARD_CONSTANTS, Milenage, MilenageConstants, derive_opc
from .sqn import (
    DEFAULT_DELTA,
    DEFAULT_IND_BITS,
    AucError,
    AutsMacError,
    SqnExhaustedError,
    join_sqn,
    next_sqns,
    recover_sqn_ms,
    resync,
    split_sqn,
)
from .vectors import (
    EutranVector,
    GeranTriplet,
    ImsAkaVector,
    UtranVector,
    c2_sres,
    c3_kc,
    eutran_vector,
    eutran_vectors,
    eutran_vectors_of,
    geran_triplet,
    ims_aka_vector,
    new_rand,
    utran_vector,
    utran_vectors,
    utran_vectors_of,
)

__all__ = [
    "DEFAULT_DELTA",
    "DEFAULT_IND_BITS",
    "STANDARD_CONSTANTS",
    "AucError",
    "AutsMacError",
    "EutranVector",
    "GeranTriplet",
    "ImsAkaVector",
    "Milenage",
    "MilenageConstants",
    "SqnExhaustedError",
    "UtranVector",
    "c2_sres",
    "c3_kc",
    "derive_opc",
    "eutran_vector",
    "eutran_vectors",
    "eutran_vectors_of",
    "geran_triplet",
    "hmac_sha256",
    "ims_aka_vector",
    "join_sqn",
    "kasme",
    "kdf",
    "new_rand",
    "next_sqns",
    "recover_sqn_ms",
    "resync",
    "split_sqn",
    "utran_vector",
    "utran_vectors",
    "utran_vectors_of",
]
