"""The one way a configuration becomes a :class:`~signing.api.Verifier` (CLI, HTTP endpoint, gateway).

The settings are lgsp's ``trust_paths`` and ``signature_policy_file`` (environment ``LGSP_TRUST_PATHS`` and
``LGSP_SIGNATURE_POLICY_FILE``, or the ``LGSP_CONFIG`` file); lgsp reads them with its ``Settings`` and hands
the values here, so ``lgsp verify``, ``POST /signatures/verify`` and the gateway can never disagree about
what is trusted. ``python -m signing.cli`` (signing on its own, without lgsp) reads the same two
environment variables directly.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import Verifier
    from .jws import KeyLookup
    from .policy import Policy

TRUST_ENV = "LGSP_TRUST_PATHS"
POLICY_ENV = "LGSP_SIGNATURE_POLICY_FILE"
# Names `lgsp verify` read before issue 12; still honoured (with a warning) so scripts keep working.
LEGACY_ENV = {"LGSP_TRUST_DIR": TRUST_ENV, "LGSP_SIGNATURE_POLICY": POLICY_ENV}


class ConfigurationError(ValueError):
    """No trust anchors, an unreadable anchor, or a bad policy file: the verifier cannot run."""


@dataclass(frozen=True)
class SignatureSettings:
    """What a verifier needs from configuration: trust anchor paths and an optional policy file."""

    trust_paths: tuple[str, ...] = ()
    policy_file: str | None = None

    @classmethod
    def from_values(cls, trust_paths: str | Iterable[str] | None, policy_file: str | None) -> SignatureSettings:
        """``trust_paths`` as lgsp stores it (comma-separated string) or already as a list."""
        if isinstance(trust_paths, str):
            items: Iterable[str] = trust_paths.split(",")
        else:
            items = trust_paths or ()
        return cls(tuple(p.strip() for p in items if p and p.strip()), policy_file or None)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> SignatureSettings:
        env = os.environ if environ is None else environ
        values = {TRUST_ENV: env.get(TRUST_ENV, ""), POLICY_ENV: env.get(POLICY_ENV, "")}
        for old, new in LEGACY_ENV.items():
            if env.get(old) and not values[new]:
                print(f"warning: {old} is deprecated, use {new}", file=sys.stderr)
                values[new] = env[old]
        return cls.from_values(values[TRUST_ENV], values[POLICY_ENV])

    def policy(self) -> Policy:
        from .policy import Policy

        if not self.policy_file:
            return Policy()
        try:
            return Policy.from_file(self.policy_file)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise ConfigurationError(f"signature policy {self.policy_file}: {exc}") from exc

    def verifier(self, *, key_lookup: KeyLookup | None = None, **kwargs: Any) -> Verifier:
        """Build the verifier; :class:`ConfigurationError` when there is nothing (valid) to trust."""
        from .api import Verifier
        from .trust import TrustStore, TrustStoreError

        if not self.trust_paths:
            raise ConfigurationError(f"no trust anchors configured ({TRUST_ENV}; nothing is trusted by default)")
        policy = self.policy()
        try:
            store = TrustStore.from_paths(self.trust_paths)
        except (TrustStoreError, OSError) as exc:
            raise ConfigurationError(str(exc)) from exc
        return Verifier(store, policy, key_lookup=key_lookup, **kwargs)
