"""DCAT mapping of ckanext-lgsp's extra fields (profile ``lgsp_dcat``, run after ``euro_dcat_ap_2``).

ckanext-dcat's DCAT-AP profile already maps title, notes, contact_*, temporal_*, issued, modified,
language, resources and their ``hash``. This profile adds what a national portal harvesting the city
portal needs from our schema: the agency identifier on dct:publisher, the national topic as dcat:theme,
the update frequency as an EU frequency URI, spatial coverage by administrative-unit code, the legal
basis, English titles, and lgsp's provenance (prov:wasGeneratedBy + dct:provenance).
"""

from __future__ import annotations

from typing import Any

from rdflib import BNode, Literal, URIRef
from rdflib.namespace import PROV, RDF, RDFS, XSD

from ckanext.dcat.profiles.base import DCAT, DCATAP, DCT, FOAF, SKOS, RDFProfile

FREQUENCY = "http://publications.europa.eu/resource/authority/frequency/"
FREQUENCY_CODES = {
    "continuous": "CONT", "hourly": "HOURLY", "daily": "DAILY", "weekly": "WEEKLY",
    "monthly": "MONTHLY", "quarterly": "QUARTERLY", "annual": "ANNUAL", "irregular": "IRREG",
}
TOPIC_SCHEME = "https://data.gov.vn/topic/"
ADMIN_UNIT_SCHEME = "https://danhmuchanhchinh.gso.gov.vn/dvhc/"
LGSP = "https://lgsp.cantho.gov.vn/ns#"


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

        code = FREQUENCY_CODES.get(get("frequency") or "")
        if code:
            g.remove((dataset_ref, DCT.accrualPeriodicity, None))
            g.add((dataset_ref, DCT.accrualPeriodicity, URIRef(FREQUENCY + code)))

        for unit in filter(None, (get("spatial_code") or "").split(",")):
            location = URIRef(ADMIN_UNIT_SCHEME + unit)
            g.add((dataset_ref, DCT.spatial, location))
            g.add((location, RDF.type, DCT.Location))
            g.add((location, DCT.identifier, Literal(unit)))
            if get("spatial_name"):
                g.add((location, SKOS.prefLabel, Literal(get("spatial_name"), lang="vi")))

        if get("legal_basis"):
            g.add((dataset_ref, DCATAP.applicableLegislation, Literal(get("legal_basis"), lang="vi")))

        self._provenance(dataset_dict, dataset_ref)

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
            if get(key) not in (None, ""):
                g.add((dataset_ref, URIRef(LGSP + key.removeprefix("lgsp_")), Literal(get(key))))

    def graph_from_catalog(self, catalog_dict: dict[str, Any], catalog_ref: Any) -> None:
        self.g.add((catalog_ref, DCT.language, Literal("vi")))
