"""Official document exchange for department DMSs: the façade's logic, generic over a document axis.

- :mod:`lgsp.documents.port` — ``DocumentAxis``, what the façade asks of the national exchange adapter.
- :mod:`lgsp.documents.axis` — finding the one installed axis (``AdapterInfo.document_axis``).
- :mod:`lgsp.documents.packets` — the facts lgsp keeps about a packet and the pluggable signature hook.
- :mod:`lgsp.documents.signature_policy` — what a checked signature must prove (``off | report | require``).
- :mod:`lgsp.documents.store` — one-transaction acceptance (document + outbox + audit), storing incoming
  packets exactly once, the agency directory.
- ``python -m lgsp.documents`` — only the axis' receiving, in the foreground.

The REST side is :mod:`lgsp.api.documents`; the edXML axis (reading packets, the ``vdxp.send`` outbox
handler, the receiving poller, ``lgsp documents``) is the ``vdxp`` adapter (``adapters/vdxp``); the
guide for DMS vendors is docs/documents.md.
"""
