"""The domain's refusals (shared with every service: binhchon_kit.errors)."""

from binhchon_kit.errors import Refused

__all__ = ["Refused"]
