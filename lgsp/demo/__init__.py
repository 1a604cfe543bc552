"""The demo of `make demo` / `lgsp demo`: sample Cần Thơ department services behind the gateway."""
