"""lgsp's SOAP mediation library, for an adapter that calls a SOAP service itself (the NGSP client).

`SoapService` reads a WSDL and turns JSON into an envelope and a reply back into JSON (raising
`MediationError` subclasses); `XRoadClient`/`XRoadService`/`XRoadHeaders` are the X-Road v4 identity
headers NGSP expects. It is the same code the gateway mediates with, so a direct call and a mediated
one build the same envelope.
"""

from __future__ import annotations

from lgsp.mediation import MediationError, SoapService, XRoadClient, XRoadHeaders, XRoadService

__all__ = ["MediationError", "SoapService", "XRoadClient", "XRoadHeaders", "XRoadService"]
