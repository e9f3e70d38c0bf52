"""The compiled parts: `sigcore.diameter._speedups`, the CCF check of received messages in C, and
`sigcore.dra._pyform`, the DRA's rt_pyform transform walk in C.

Optional: where no C compiler or Python headers are found, the install goes on without them and the pure
Python walks in `sigcore.diameter.dictionary` and `sigcore.dra.pyform` do the same work
(docs/architecture.md). Everything else about the package is in pyproject.toml.
"""

from setuptools import Extension, setup

COMPILE_ARGS = ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]

setup(
    ext_modules=[
        Extension("sigcore.diameter._speedups", ["src/sigcore/diameter/_speedups.c"], optional=True,
                  extra_compile_args=COMPILE_ARGS),
        Extension("sigcore.dra._pyform", ["src/sigcore/dra/_pyform.c"], optional=True,
                  extra_compile_args=COMPILE_ARGS),
    ],
)
