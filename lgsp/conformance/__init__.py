"""``lgsp conformance``: the conformance suites (``conformance_tests/``) as a product.

The suites are plain pytest directories independent of lgsp's code; this package only runs them against
an endpoint given by URL (our simulators in CI, a partner's test system in the field), collects a JUnit
XML report and prints a readable summary.
"""
