"""What a registry change answers when it cannot be made: the field to fix, or the object that is not there.

At the bottom of the registry so every module that changes it (operations, limits, object grants, datasets)
raises the same errors without importing one another.
"""

from __future__ import annotations


class RegistryError(ValueError):
    """Invalid registry input; ``field`` names what to fix (rendered as a 422 problem)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class RegistryNotFound(LookupError):
    pass
