"""NGSP adapter: national-database lookups over SOAP with X-Road v4 headers (client + simulator)."""
