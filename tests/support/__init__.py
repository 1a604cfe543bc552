"""Test helpers shared by several test packages (they may import adapters by name)."""
