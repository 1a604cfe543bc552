"""Signature verification (XMLDSig/XAdES, PAdES, JWS) with one report model."""
