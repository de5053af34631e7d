"""Bearer JWT authentication and role checks."""

from binhchon_kit.auth.roles import Role
from binhchon_kit.auth.tokens import Principal, TokenVerifier

__all__ = ["Principal", "Role", "TokenVerifier"]
