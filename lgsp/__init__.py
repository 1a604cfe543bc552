"""lgsp: the Local Government Service Platform bus."""
