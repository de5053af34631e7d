"""The auditor's per-event work compiled (docs/adr/0059): ``read_values`` answers what
``binhchon_tools.audit_chain.read_values`` answers, or ``None`` for a record the Python path must read;
``read_packed`` the same for a batch, packed for ``Chains``, which is ``audit_chain.ChainCheck``'s bookkeeping;
``open_sheets`` opens a common scoring stream's sealed sheets as ``audit_recompute._opened_sheets`` does;
``Decider`` confirms common scoring streams' decisions where ``audit_recompute.confirm_raws`` confirms them;
``TopicReader`` reads the topics from Kafka as ``binhchon_kit.topic_history.read_records`` does, each partition's
fetch (``Fetched``) read and hashed on its own threads, for ``Chains.take_fetched``."""

import sys

from binhchon_audit_core._core import (
    Chains,
    Decider,
    Fetched,
    TopicReader,
    canonical_form,
    open_sheets,
    read_packed,
    read_values,
    set_int_max_str_digits,
)

__all__ = ["Chains", "Decider", "Fetched", "TopicReader", "canonical_form", "open_sheets", "read_packed", "read_values"]

# an integer literal with more digits than Python reads from text is refused, as ``json.loads`` refuses it
set_int_max_str_digits(sys.get_int_max_str_digits())
