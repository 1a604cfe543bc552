"""The Dublin Core metadata Vietnamese government sites must carry, from a CKAN dataset.

Mandatory: title, creator, date, description, publisher, identifier; recommended: language, source,
subject. The dataset page shows them (a table) and puts them in its ``<head>`` as ``DC.*`` meta tags,
so crawlers of the national portal read them the way they read any government page.
"""

from __future__ import annotations

from typing import Any

from ckan.plugins import toolkit as tk

MANDATORY = ("title", "creator", "date", "description", "publisher", "identifier")


def elements(pkg: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(element, label, value)`` in the standard's order; empty values are left out."""
    org = pkg.get("organization") or {}
    agency = pkg.get("agency_code") or ""
    publisher = " — ".join(v for v in (org.get("title") or "", agency) if v)
    tags = [t.get("display_name") or t.get("name") for t in pkg.get("tags") or []]
    subject = "; ".join(v for v in (pkg.get("topic") or "", *tags) if v)
    try:
        identifier = tk.url_for("dataset.read", id=pkg.get("name"), _external=True)
    except Exception:  # outside a request (tests, CLI): the name is still an identifier
        identifier = pkg.get("name") or ""
    date = pkg.get("issued") or pkg.get("lgsp_published_at") or pkg.get("metadata_created") or ""
    rows = [
        ("title", tk._("Title"), pkg.get("title") or ""),
        ("creator", tk._("Creator"), org.get("title") or pkg.get("author") or ""),
        ("date", tk._("Date"), str(date)),
        ("description", tk._("Description"), pkg.get("notes") or ""),
        ("publisher", tk._("Publisher"), publisher),
        ("identifier", tk._("Identifier"), identifier),
        ("language", tk._("Language"), pkg.get("language") or "vi"),
        ("source", tk._("Source"), pkg.get("lgsp_source_service") or ""),
        ("subject", tk._("Subject"), subject),
    ]
    return [row for row in rows if row[2]]
