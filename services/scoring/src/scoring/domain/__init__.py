"""Scoring's rules, with no I/O: rulebooks (as data), aggregation and banding, the sealed scoring of one
dossier, the council's proposal. A number from the legal texts lives in a rulebook file, never in code."""
