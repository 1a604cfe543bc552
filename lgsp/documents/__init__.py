"""Official document exchange for department DMSs: the façade's logic, the axis handler, the poller.

- :mod:`lgsp.documents.packets` — what lgsp accepts (edXML hard errors, the pluggable signature hook).
- :mod:`lgsp.documents.store` — one-transaction acceptance (document + outbox + audit), storing incoming
  packets exactly once, the agency directory.
- :mod:`lgsp.documents.handler` — the ``vdxp.send`` outbox handler (``AxisClient.send_edoc``).
- :mod:`lgsp.documents.poller` — receiving per agency (store, then acknowledge) and the directory sync.
- :mod:`lgsp.documents.jobs` / ``python -m lgsp.documents`` — running the poller.
- :mod:`lgsp.documents.demo` — ``demo_documents``: one document out, one status packet back.

The REST side is :mod:`lgsp.api.documents`; the guide for DMS vendors is docs/documents.md.
"""
