"""DCAT mapping of ckanext-lgsp's extra fields (profile ``lgsp_dcat``, run after ``euro_dcat_ap_2``).

ckanext-dcat's DCAT-AP profile already maps title, notes, contact_*, temporal_*, issued, modified,
language, resources and their ``hash``. This profile adds what a national portal harvesting the city
portal needs from our schema: the agency identifier on dct:publisher, the national topic as dcat:theme,
the update frequency as an EU frequency URI, spatial coverage by administrative-unit code, the legal
basis, English titles, and lgsp's provenance (prov:wasGeneratedBy + dct:provenance).

It also completes what DCAT-AP and harvesters expect and the base profile leaves out or mistypes: the
licence (``dct:license``, a ``dct:LicenseDocument``) on the dataset and on every distribution,
``dcat:downloadURL`` for files, ``dcat:byteSize`` as an ``xsd:nonNegativeInteger`` (not ``46788.0``),
timestamps with their time zone (CKAN stores UTC without saying so), and the catalogue's
``dct:publisher`` and ``dct:description``.

Every node a DCAT-AP 3 property points at is given its class (``dct:Frequency``, ``dct:LinguisticSystem``,
``dct:MediaTypeOrExtent``, ``dct:MediaType``, ``eli:LegalResource``, ``foaf:Document``, a labelled
``skos:Concept``), and language, format and media type are URIs of the EU and IANA vocabularies, not
literals: schemas/shacl/dcat-ap-3 holds the shapes the output is validated against in CI.
"""

from __future__ import annotations

from typing import Any

from ckan.plugins import toolkit as tk
from rdflib import BNode, Literal, Namespace, URIRef
from rdflib.namespace import PROV, RDF, RDFS, XSD

from ckanext.dcat.profiles.base import DCAT, DCATAP, DCT, FOAF, SKOS, SPDX, RDFProfile
from ckanext.dcat.utils import resource_uri

from .text import clean_subgraph

FREQUENCY = "http://publications.europa.eu/resource/authority/frequency/"
FREQUENCY_CODES = {
    "continuous": "CONT", "hourly": "HOURLY", "daily": "DAILY", "weekly": "WEEKLY",
    "monthly": "MONTHLY", "quarterly": "QUARTERLY", "annual": "ANNUAL", "irregular": "IRREG",
}
TOPIC_SCHEME = "https://data.gov.vn/topic/"
ADMIN_UNIT_SCHEME = "https://danhmuchanhchinh.gso.gov.vn/dvhc/"
LGSP = "https://lgsp.cantho.gov.vn/ns#"
ELI = Namespace("http://data.europa.eu/eli/ontology#")
LANGUAGE = "http://publications.europa.eu/resource/authority/language/"
#: ISO 639-1 codes CKAN stores -> the EU language authority's codes (ISO 639-2/B).
LANGUAGE_CODES = {"vi": "VIE", "en": "ENG", "fr": "FRA", "zh": "ZHO", "km": "KHM"}
FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
MEDIA_TYPE = "https://www.iana.org/assignments/media-types/"
#: CKAN licence ids -> the licence's canonical URI (CKAN's own license_url points at opendefinition.org).
LICENCES = {
    "cc-by": "https://creativecommons.org/licenses/by/4.0/",
    "cc-by-sa": "https://creativecommons.org/licenses/by-sa/4.0/",
    "cc-zero": "https://creativecommons.org/publicdomain/zero/1.0/",
    "cc-nc": "https://creativecommons.org/licenses/by-nc/4.0/",
    "odc-by": "https://opendatacommons.org/licenses/by/1-0/",
    "odc-odbl": "https://opendatacommons.org/licenses/odbl/1-0/",
    "odc-pddl": "https://opendatacommons.org/licenses/pddl/1-0/",
}
#: CKAN licence ids -> the English title of CKAN's default licence register. ckanext-dcat's parser (and so
#: another CKAN harvesting us) finds a licence id by the licence node's URI or its ``dct:title``; the URIs
#: above are the licences' own, not the register's, so the title is what lets a harvester match them.
LICENCE_TITLES = {
    "cc-by": "Creative Commons Attribution",
    "cc-by-sa": "Creative Commons Attribution Share-Alike",
    "cc-zero": "Creative Commons CCZero",
    "cc-nc": "Creative Commons Non-Commercial (Any)",
    "odc-by": "Open Data Commons Attribution License",
    "odc-odbl": "Open Data Commons Open Database License (ODbL)",
    "odc-pddl": "Open Data Commons Public Domain Dedication and License (PDDL)",
}
INTEGER_FIELDS = ("lgsp_row_count", "lgsp_audit_index")


class LgspDCATProfile(RDFProfile):
    """Adds lgsp's fields to the dataset graph; parsing (harvesting into lgsp) is not needed."""

    def parse_dataset(self, dataset_dict: dict[str, Any], dataset_ref: Any) -> dict[str, Any]:
        return dataset_dict

    def graph_from_dataset(self, dataset_dict: dict[str, Any], dataset_ref: Any) -> None:
        g = self.g
        get = dataset_dict.get
        if get("title_en"):
            g.add((dataset_ref, DCT.title, Literal(get("title_en"), lang="en")))
        if get("notes_en"):
            g.add((dataset_ref, DCT.description, Literal(get("notes_en"), lang="en")))

        agency = get("agency_code")
        if agency:
            publisher = g.value(dataset_ref, DCT.publisher)
            if publisher is None:
                publisher = BNode()
                g.add((publisher, RDF.type, FOAF.Agent))
                g.add((dataset_ref, DCT.publisher, publisher))
                org = get("organization") or {}
                if org.get("title"):
                    g.add((publisher, FOAF.name, Literal(org["title"])))
            g.add((publisher, DCT.identifier, Literal(agency)))

        if get("topic"):
            g.remove((dataset_ref, DCAT.theme, None))
            theme = URIRef(TOPIC_SCHEME + get("topic"))
            g.add((dataset_ref, DCAT.theme, theme))
            g.add((theme, RDF.type, SKOS.Concept))
            g.add((theme, SKOS.notation, Literal(get("topic"))))
            for lang, label in _topic_labels(get("topic")).items():
                g.add((theme, SKOS.prefLabel, Literal(label, lang=lang)))

        code = FREQUENCY_CODES.get(get("frequency") or "")
        if code:
            g.remove((dataset_ref, DCT.accrualPeriodicity, None))
            g.add((dataset_ref, DCT.accrualPeriodicity, URIRef(FREQUENCY + code)))
            g.add((URIRef(FREQUENCY + code), RDF.type, DCT.Frequency))

        for unit in filter(None, (get("spatial_code") or "").split(",")):
            location = URIRef(ADMIN_UNIT_SCHEME + unit)
            g.add((dataset_ref, DCT.spatial, location))
            g.add((location, RDF.type, DCT.Location))
            g.add((location, DCT.identifier, Literal(unit)))
            if get("spatial_name"):
                g.add((location, SKOS.prefLabel, Literal(get("spatial_name"), lang="vi")))

        if get("legal_basis"):  # DCAT-AP 3: a legal resource (eli:LegalResource), here named by its title
            legislation = BNode()
            g.add((dataset_ref, DCATAP.applicableLegislation, legislation))
            g.add((legislation, RDF.type, ELI.LegalResource))
            g.add((legislation, DCT.title, Literal(get("legal_basis"), lang="vi")))

        self._provenance(dataset_dict, dataset_ref)
        self._licence(dataset_dict, dataset_ref)
        self._distributions(dataset_dict)
        self._zoned_times(dataset_ref)
        self._languages(dataset_ref)
        self._typed_pages(dataset_ref)
        clean_subgraph(g, dataset_ref)  # last: what the profiles above wrote must be writable as RDF/XML too

    def _provenance(self, dataset_dict: dict[str, Any], dataset_ref: Any) -> None:
        get = dataset_dict.get
        if not get("lgsp_run_id"):
            return
        g = self.g
        activity = BNode()
        g.add((dataset_ref, PROV.wasGeneratedBy, activity))
        g.add((activity, RDF.type, PROV.Activity))
        g.add((activity, DCT.identifier, Literal(get("lgsp_run_id"))))
        if get("lgsp_published_at"):
            g.add((activity, PROV.endedAtTime, Literal(get("lgsp_published_at"), datatype=XSD.dateTime)))
        if get("lgsp_source_service"):
            g.add((activity, PROV.used, Literal(get("lgsp_source_service"))))
        statement = BNode()
        g.add((dataset_ref, DCT.provenance, statement))
        g.add((statement, RDF.type, DCT.ProvenanceStatement))
        text = (
            f"Published by lgsp run {get('lgsp_run_id')} from service {get('lgsp_source_service')}; "
            f"{get('lgsp_row_count')} rows; content sha256 {get('lgsp_content_hash')}"
        )
        if get("lgsp_audit_index") not in (None, ""):
            text += f"; audit log index {get('lgsp_audit_index')}"
        g.add((statement, RDFS.label, Literal(text)))
        for key in ("lgsp_content_hash", "lgsp_row_count", "lgsp_audit_index", "lgsp_source_service"):
            value = get(key)
            if value in (None, ""):
                continue
            g.add((dataset_ref, URIRef(LGSP + key.removeprefix("lgsp_")), _integer_or_text(key, value)))

    def _licence(self, dataset_dict: dict[str, Any], dataset_ref: Any) -> None:
        """The dataset's CKAN licence on the dataset and on each distribution (DCAT-AP: a LicenseDocument).

        The licence is named by the URL of CKAN's licence register (``license_url``) when there is one: that
        is what another CKAN harvesting us matches to its own licence id (by URI -- titles are translated
        into the harvesting site's language, so they do not match across locales). The licence's own
        canonical URI (creativecommons.org, opendatacommons.org) follows as ``rdfs:seeAlso``.
        """
        licence_id = dataset_dict.get("license_id")
        canonical = LICENCES.get(licence_id or "")
        uri = dataset_dict.get("license_url") or canonical
        if not uri:
            return
        g = self.g
        licence = URIRef(uri)
        g.add((licence, RDF.type, DCT.LicenseDocument))
        if canonical and canonical != uri:
            g.add((licence, RDFS.seeAlso, URIRef(canonical)))
        if dataset_dict.get("license_title"):
            g.add((licence, RDFS.label, Literal(dataset_dict["license_title"])))
        if licence_id:
            g.add((licence, DCT.identifier, Literal(licence_id)))
        if licence_id in LICENCE_TITLES:
            g.set((licence, DCT.title, Literal(LICENCE_TITLES[licence_id])))
        g.set((dataset_ref, DCT.license, licence))
        for distribution in g.objects(dataset_ref, DCAT.distribution):
            if g.value(distribution, DCT.license) is None:
                g.add((distribution, DCT.license, licence))

    def _distributions(self, dataset_dict: dict[str, Any]) -> None:
        """``dcat:downloadURL`` for files, and ``dcat:byteSize`` as an integer."""
        g = self.g
        for resource in dataset_dict.get("resources", []):
            ref = URIRef(resource_uri(resource))
            url = (resource.get("url") or "").strip()
            if url and (resource.get("url_type") == "upload" or "/download/" in url or resource.get("format")):
                g.set((ref, DCAT.downloadURL, URIRef(url)))
            self._format(ref)
            self._checksum_algorithm(ref)
            self._languages(ref)
            self._typed_pages(ref)
            for size in list(g.objects(ref, DCAT.byteSize)):
                g.remove((ref, DCAT.byteSize, size))
                try:
                    g.add((ref, DCAT.byteSize, Literal(int(float(size)), datatype=XSD.nonNegativeInteger)))
                except (TypeError, ValueError):
                    pass  # not a number: better no size than a wrong one

    def _format(self, ref: Any) -> None:
        """``dct:format`` as an EU file type and ``dcat:mediaType`` as an IANA media type (URIs with a class)."""
        g = self.g
        for value in list(g.objects(ref, DCT["format"])):
            if isinstance(value, Literal):
                g.remove((ref, DCT["format"], value))
                token = str(value).strip().upper()
                if token.isalnum():
                    value = URIRef(FILE_TYPE + token)
                    g.add((ref, DCT["format"], value))
                    g.add((value, RDF.type, DCT.MediaTypeOrExtent))
            elif g.value(value, RDF.type) is None:
                g.add((value, RDF.type, DCT.MediaTypeOrExtent))
        for value in list(g.objects(ref, DCAT.mediaType)):
            if isinstance(value, Literal):
                g.remove((ref, DCAT.mediaType, value))
                text = str(value).strip().lower()
                if text.count("/") == 1 and " " not in text:
                    value = URIRef(MEDIA_TYPE + text)
                    g.add((ref, DCAT.mediaType, value))
                    g.add((value, RDF.type, DCT.MediaType))
            elif g.value(value, RDF.type) is None:
                g.add((value, RDF.type, DCT.MediaType))

    def _checksum_algorithm(self, ref: Any) -> None:
        """``spdx:algorithm`` as SPDX's algorithm URI (``sha256`` -> ``spdx:checksumAlgorithm_sha256``), typed."""
        g = self.g
        for checksum in g.objects(ref, SPDX.checksum):
            for algorithm in list(g.objects(checksum, SPDX.algorithm)):
                if isinstance(algorithm, Literal) or not str(algorithm).startswith(str(SPDX)):
                    g.remove((checksum, SPDX.algorithm, algorithm))
                    name = str(algorithm).rsplit("_", 1)[-1].rsplit("#", 1)[-1].lower().replace("-", "")
                    algorithm = SPDX["checksumAlgorithm_" + name]
                    g.add((checksum, SPDX.algorithm, algorithm))
                g.add((algorithm, RDF.type, SPDX.ChecksumAlgorithm))

    def _languages(self, subject: Any) -> None:
        """``dct:language "vi"`` -> the EU language authority's URI, a ``dct:LinguisticSystem``."""
        g = self.g
        for value in list(g.objects(subject, DCT.language)):
            if isinstance(value, Literal):
                g.remove((subject, DCT.language, value))
                code = LANGUAGE_CODES.get(str(value).strip().lower()[:2])
                if code is None:
                    continue  # an unknown code: better no language than a wrong one
                value = URIRef(LANGUAGE + code)
                g.add((subject, DCT.language, value))
            g.add((value, RDF.type, DCT.LinguisticSystem))

    def _typed_pages(self, subject: Any) -> None:
        """Landing pages and home pages are ``foaf:Document`` (DCAT-AP 3 gives them that class)."""
        g = self.g
        for predicate in (DCAT.landingPage, FOAF.homepage, FOAF.page):
            for page in g.objects(subject, predicate):
                if not isinstance(page, Literal):
                    g.add((page, RDF.type, FOAF.Document))

    def _zoned_times(self, dataset_ref: Any) -> None:
        """CKAN's timestamps are UTC but written without an offset; say so (xsd:dateTime needs it to be exact)."""
        g = self.g
        subjects = [dataset_ref, *g.objects(dataset_ref, DCAT.distribution)]
        for subject in subjects:
            for predicate in (DCT.issued, DCT.modified):
                for value in list(g.objects(subject, predicate)):
                    text = str(value)
                    if getattr(value, "datatype", None) == XSD.dateTime and _naive(text):
                        g.remove((subject, predicate, value))
                        g.add((subject, predicate, Literal(text + "+00:00", datatype=XSD.dateTime)))

    def graph_from_catalog(self, catalog_dict: dict[str, Any], catalog_ref: Any) -> None:
        g = self.g
        g.add((catalog_ref, DCT.language, Literal("vi")))
        self._languages(catalog_ref)
        self._typed_pages(catalog_ref)
        description = tk.config.get("ckanext.lgsp.catalog_description") or tk.config.get("ckan.site_description")
        if description and g.value(catalog_ref, DCT.description) is None:
            g.add((catalog_ref, DCT.description, Literal(description, lang="vi")))
        name = tk.config.get("ckanext.lgsp.catalog_publisher_name")
        if name and g.value(catalog_ref, DCT.publisher) is None:
            publisher = URIRef(tk.config.get("ckanext.lgsp.catalog_publisher_uri") or str(catalog_ref) + "#publisher")
            g.add((catalog_ref, DCT.publisher, publisher))
            g.add((publisher, RDF.type, FOAF.Agent))
            g.add((publisher, FOAF.name, Literal(name, lang="vi")))
            agency = tk.config.get("ckanext.lgsp.catalog_publisher_id")
            if agency:
                g.add((publisher, DCT.identifier, Literal(agency)))
        for predicate in (DCT.issued, DCT.modified):
            for value in list(g.objects(catalog_ref, predicate)):
                if getattr(value, "datatype", None) == XSD.dateTime and _naive(str(value)):
                    g.remove((catalog_ref, predicate, value))
                    g.add((catalog_ref, predicate, Literal(str(value) + "+00:00", datatype=XSD.dateTime)))
        clean_subgraph(g, catalog_ref)


def _topic_labels(topic: str) -> dict[str, str]:
    """The topic's labels by language, from the dataset schema's choices (one source for form and DCAT)."""
    try:
        from ckanext.scheming.helpers import scheming_get_dataset_schema
    except ImportError:  # pragma: no cover - scheming is a hard requirement of the lgsp plugin
        return {"vi": topic}
    schema = scheming_get_dataset_schema("dataset") or {}
    for field in schema.get("dataset_fields", []):
        if field.get("field_name") == "topic":
            for choice in field.get("choices", []):
                if choice.get("value") == topic:
                    label = choice.get("label")
                    return dict(label) if isinstance(label, dict) else {"vi": str(label or topic)}
    return {"vi": topic}


def _integer_or_text(key: str, value: Any) -> Literal:
    """An ``xsd:integer`` for a count or index written in ASCII digits, else the text as it is.

    ``str.isdigit`` alone is not enough: it is true for "²" and "٣", which ``int`` refuses, and for 5,000
    digits, which ``int`` refuses too (Python's limit on string conversion) -- a stored ``lgsp_audit_index``
    like that made every DCAT endpoint showing the dataset a 500."""
    text = str(value)
    if key in INTEGER_FIELDS and text.isascii() and text.isdigit() and len(text) <= 19:
        return Literal(int(text), datatype=XSD.integer)
    return Literal(value)


def _naive(text: str) -> bool:
    """An xsd:dateTime lexical form without ``Z`` or ``±hh:mm``."""
    time_part = text.partition("T")[2]
    return bool(time_part) and not (time_part.endswith("Z") or "+" in time_part or "-" in time_part)
