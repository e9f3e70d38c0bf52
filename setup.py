"""The one compiled part: `sigcore.diameter._speedups`, the CCF check of received messages in C.

Optional: where no C compiler or Python headers are found, the install goes on without it and the pure
Python walk in `sigcore.diameter.dictionary` does the same work (docs/architecture.md). Everything else
about the package is in pyproject.toml.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("sigcore.diameter._speedups", ["src/sigcore/diameter/_speedups.c"], optional=True,
                  extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]),
    ],
)
