"""TEST DOUBLE: an in-memory stand-in for the slice of Apache Solr's HTTP API that CKAN uses.

Solr (a JVM service) cannot be installed on the machines lgsp's tests and CI run on, but CKAN needs a
search backend for `package_search`, `package_show` by name and the DCAT catalogue. This package answers
the requests CKAN 2.12 (through pysolr) actually sends -- select with q/fq/sort/rows/start/fl/facets,
update (JSON add, XML add/delete/commit), ping and the schema-version check -- from a Python dict.

It is NOT a search engine: relevance is a crude term count, analysis is lowercase + accent folding,
and only the Lucene query syntax CKAN and ckanext-dcat emit is understood. Production runs real Solr 9
with CKAN's schema; see docs/open-data.md.
"""

from .core import SolrCore, SolrError
from .query import parse_query

__all__ = ["SolrCore", "SolrError", "parse_query"]
