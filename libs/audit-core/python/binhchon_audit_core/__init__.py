"""The auditor's per-event work compiled (docs/adr/0059): ``read_values`` answers what
``binhchon_tools.audit_chain.read_values`` answers, or ``None`` for a record the Python path must read."""

from binhchon_audit_core._core import canonical_form, read_values

__all__ = ["canonical_form", "read_values"]
