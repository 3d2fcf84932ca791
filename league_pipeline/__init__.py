"""league-pipeline: reproduce, audit and explain the NHS Oversight Framework 2025/26 league tables.

The package holds the code; the methodology itself (metric catalogue, DuckDB SQL) lives in the
repository's ``assets/`` folder and the pandera schemas in ``schemas/``. Both are located through
:mod:`league_pipeline.core.paths` so that editable and wheel installs behave the same.
"""

try:  # written when the package is built or installed (hatch-vcs): "0.1.1.devN+g<commit>"
    from league_pipeline._version import __version__
except ImportError:  # a source tree on the path that was never built or installed
    __version__ = "0+unknown"
