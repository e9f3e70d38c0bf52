"""Helpers shared by the test directories (``from support.usim_model import UsimModel``): the USIM model, the
database servers, the S6a harness, a test CA, and in-process handler calls. ``tests/`` is on ``sys.path``
because it holds the root ``conftest.py``, so no test adds to the path itself."""
