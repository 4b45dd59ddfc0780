"""The real taps from PyPI the tests run, with the pip specs of their venvs."""

from __future__ import annotations

from tests.support.tapvenv import REPO

ALL_VENVS: dict[str, list[str]] = {
    # singer-sdk family
    "meltanolabs-tap-postgres": ["meltanolabs-tap-postgres==0.10.0"],
    "tap-jsonl": ["tap-jsonl==0.3.1"],
    "tap-rest-api-msdk": ["tap-rest-api-msdk==1.4.2"],
    "tap-demo": [str(REPO / "taps" / "tap-demo")],
    "tap-spreadsheets": ["tap-spreadsheets==1.1.2"],  # local CSV/Excel files, singer-sdk 0.52
    "tap-applehealth": ["tap-applehealth==0.0.4"],  # a local XML file, an old singer-sdk (0.31)
    # singer-python family
    "pipelinewise-tap-postgres": ["pipelinewise-tap-postgres==1.8.4"],
    "tap-test-data-generator": ["tap-test-data-generator==1.4.0"],
    "pipelinewise-tap-mysql": ["pipelinewise-tap-mysql==1.6.0"],
    # parent/child streams (pull_requests -> reviews, review_comments, pr_commits), base_url
    # pointed at a local imitation of the GitHub API (tests/support/github_api.py)
    "tap-github": ["tap-github==4.0.0"],
}
# Second pip installs: tap-test-data-generator pins exrex 0.10.5, which no longer imports on 3.11.
THEN: dict[str, list[str]] = {"tap-test-data-generator": ["exrex==0.11.0"]}

# PyAirbyte in a venv of its own, driven by tests/support/pyairbyte_driver.py.
ALL_VENVS["pyairbyte"] = ["airbyte==0.71.3"]

# A real Singer target, to load what a native source writes in Singer mode.
ALL_VENVS["target-jsonl"] = ["target-jsonl==0.1.4"]

# Meltano and a Meltano SDK target, for the Meltano recipe (tests/test_meltano.py, docs/meltano.md):
# each in its own venv (Meltano pins SQLAlchemy 2.0, target-postgres 2.1).
ALL_VENVS["meltano"] = ["meltano==4.4.1"]
ALL_VENVS["meltanolabs-target-postgres"] = ["meltanolabs-target-postgres==0.8.1"]

# Airbyte sources run as Singer taps by `singer-bridge-tap` (tests/test_airbyte_tap_real.py,
# docs/airbyte-in-meltano.md): each connector in its own venv with this checkout installed
# beside it (editable, so the venv runs the code under test), as Meltano's `pip_url` would.
# source-faker 7.2 pins airbyte-cdk <7; the declarative manifest runs on airbyte-cdk 7.
ALL_VENVS["airbyte-source-faker"] = ["airbyte-source-faker==7.2.1", "-e", str(REPO)]
ALL_VENVS["airbyte-cdk"] = ["airbyte-cdk==7.39.1", "-e", str(REPO)]
