"""The doc runner uses the interface tests' demo stack and, for open-data pages, the real CKAN and the
demo's open-data step from tests/opendata."""

from tests.interface.conftest import stack  # noqa: F401
from tests.opendata.conftest import ckan, demo  # noqa: F401
