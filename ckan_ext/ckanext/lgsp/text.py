"""Text every output of the portal can carry: the characters of XML 1.0, and IRIs Turtle can write.

Why: CKAN stores any string its API is given, but the DCAT endpoints serialise it as RDF/XML too, and XML 1.0
has no way to write U+0000-U+001F (except tab, LF, CR), U+FFFE, U+FFFF or an unpaired surrogate -- not even
as a character reference. One dataset title holding U+0001 made ``/catalog.rdf`` (what harvesters read) a
malformed document for the whole portal, every page of it; NUL or a lone surrogate in a title was a 500
from ``package_create`` (PostgreSQL and the UTF-8 codec refuse them).

So the dataset schema refuses such text (:func:`refuse_unwritable`, a validator: the API answers a
validation error naming the field), and the DCAT profile cleans what is already stored
(:func:`clean_subgraph`), so one bad record can never break the catalogue for everybody.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from rdflib import Graph, Literal, URIRef
from rdflib.term import Node

#: What the XML 1.0 ``Char`` production leaves out (surrogates fall between the ranges).
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
#: What an IRI may not hold in Turtle/N-Triples (``IRIREF``), besides the characters above.
NOT_IRI = re.compile('[\x00-\x20<>"{}|^`\\\\\x7f]')
#: An IRI with a scheme; RDF has no relative IRIs (N-Triples refuses them, XML and Turtle resolve them
#: against the document's own address, which names the wrong thing).
ABSOLUTE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
MESSAGE = ("Text must not contain control characters (U+0000-U+001F other than tab and line breaks), "
           "U+FFFE, U+FFFF or unpaired surrogates")


def writable(text: str) -> bool:
    """Whether ``text`` can be written in every format the portal serves (XML 1.0 characters only)."""
    return NOT_XML.search(text) is None


def refuse_unwritable(value: Any) -> Any:
    """Validator (``lgsp_text``): a string holding a character XML cannot carry is invalid."""
    from ckan.plugins import toolkit as tk

    if isinstance(value, str) and not writable(value):
        raise tk.Invalid(tk._(MESSAGE))
    return value


def clean_text(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot carry."""
    return NOT_XML.sub("", text)


def clean_iri(iri: str) -> str:
    """``iri`` with what Turtle cannot write inside ``<...>`` percent-encoded (as a browser would send it)."""
    if NOT_IRI.search(iri) is None and writable(iri):
        return iri
    safe = clean_text(iri)
    return NOT_IRI.sub(lambda m: quote(m.group(0).encode("utf-8"), safe=""), safe)


def clean_term(term: Node) -> Node:
    """The term itself when every format can write it, else a cleaned copy (same language and datatype)."""
    if isinstance(term, Literal):
        text = str(term)
        if writable(text):
            return term
        return Literal(clean_text(text), lang=term.language, datatype=term.datatype)
    if isinstance(term, URIRef):
        cleaned = clean_iri(str(term))
        return term if cleaned == str(term) else URIRef(cleaned)
    return term


def clean_subgraph(g: Graph, root: Node) -> None:
    """Clean every literal and IRI reachable from ``root`` (a dataset's own triples, its distributions,
    publisher, contact point, ...), in place. Only that part of the graph is walked, so a catalogue page
    costs a pass over each of its datasets once, not over the whole graph per dataset. An IRI that is
    rewritten takes the triples it is the subject of along; one that is not absolute once cleaned (a resource
    URL of only whitespace or control characters, a licence URL like ``then``) is dropped, with them."""
    seen: set[Node] = set()
    todo = [root]
    while todo:
        node = todo.pop()
        if node in seen or isinstance(node, Literal):
            continue
        seen.add(node)
        for predicate, value in list(g.predicate_objects(node)):
            cleaned = clean_term(value)
            if isinstance(cleaned, URIRef) and not ABSOLUTE_IRI.match(str(cleaned)):
                g.remove((node, predicate, value))  # <> or <then>: relative, resolved against the document
                g.remove((value, None, None))  # and what was said about it: a relative subject is as wrong
                continue
            if cleaned is not value:
                g.remove((node, predicate, value))
                g.add((node, predicate, cleaned))
                for p2, o2 in list(g.predicate_objects(value)):
                    g.remove((value, p2, o2))
                    g.add((cleaned, p2, o2))
            todo.append(cleaned)
