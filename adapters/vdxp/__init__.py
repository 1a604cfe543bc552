"""The national document-exchange axis (VXP/VDXP): edXML packets, the REST client and a simulator.

Public entry points (see docs/protocols/edxml.md):

- ``adapters.vdxp.edxml`` — models, ``write_document``/``write_status`` (strict), ``read_document``/
  ``read_status``/``read_packet`` (tolerant, with deviations), ``StatusCode`` and its transitions.
- ``adapters.vdxp.client.AxisClient`` — async client; raises ``RetryableAxisError``/``PermanentAxisError``.
- ``adapters.vdxp.simulator.create_simulator_app`` — the axis as an ASGI app (``python -m
  adapters.vdxp.simulator --port N --config FILE`` standalone).
- ``adapters.vdxp.axis.factory`` — the document axis of lgsp's document façade
  (``lgsp.sdk.documents.DocumentAxis``): ``packets`` reads edXML into the façade's facts, ``handler`` is
  the ``vdxp.send`` outbox handler, ``poller``/``jobs`` receive and sync the agency directory,
  ``cli`` is ``lgsp documents``, ``settings`` reads ``LGSP_VDXP_*``, ``demo`` is the round trip.
"""
