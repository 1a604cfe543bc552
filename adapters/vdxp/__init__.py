"""The national document-exchange axis (VXP/VDXP): edXML packets, the REST client and a simulator."""
