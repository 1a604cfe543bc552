"""``lgsp verify``: signing's command with its defaults taken from lgsp's settings.

The gateway and ``POST /signatures/verify`` build their verifier from ``Settings.trust_paths`` and
``Settings.signature_policy_file`` (``lgsp.gateway.signatures.signature_settings``); pointing the command's
settings provider at the same function makes the three read one configuration.
"""

from __future__ import annotations

from signing import cli as signing_cli
from signing.config import SignatureSettings


def settings_from_lgsp() -> SignatureSettings:
    from lgsp.settings import Settings

    settings = Settings.load()
    if not settings.trust_paths and not settings.signature_policy_file:
        return SignatureSettings.from_environment()  # still honours the pre-issue-12 variable names
    return SignatureSettings.from_values(settings.trust_paths, settings.signature_policy_file)


signing_cli.settings_provider = settings_from_lgsp
verify_command = signing_cli.verify_command
