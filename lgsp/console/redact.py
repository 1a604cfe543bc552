"""Provider credentials kept out of what the console shows to people who cannot change them.

Why: a service's ``base_url`` may carry ``user:password@`` (aiohttp sends it to the provider as Basic
authentication, the one way the registry has to hold a provider's credentials). The registry page, its
YAML export and the home page's open circuit breakers (keyed by that URL) showed it to every role,
observers included. Only a role that may write the registry sees it, in the YAML it edits, so that what
it applies back keeps the credentials.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

#: userinfo of an http(s) URL anywhere in a text: no '/', '@', whitespace or quote can be part of it
_USERINFO = re.compile(r"(?i)(https?://)[^/@\s\"'<>]+@")
HIDDEN = "***"


def url_without_credentials(url: str) -> str:
    """``url`` with its ``user:password@`` shown as ``***@``; any other URL as it is."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=f"{HIDDEN}@{parts.netloc.rsplit('@', 1)[1]}"))


def text_without_credentials(text: str) -> str:
    """Every http(s) URL's userinfo in ``text`` (a registry export) shown as ``***``."""
    return _USERINFO.sub(rf"\g<1>{HIDDEN}@", text)
