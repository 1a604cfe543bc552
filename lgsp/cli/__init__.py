"""The `lgsp` command line."""
