"""The optional C speedups; everything else is in pyproject.toml.

``optional=True``: where no C compiler is at hand the install still succeeds and the bridge runs
its pure-Python hot path (``singer_bridge.translate.fastpath`` says which one is in use).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "singer_bridge._speedups",
            ["singer_bridge/_speedups.c"],
            optional=True,
            extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
        )
    ]
)
