"""Intake's rules, with no I/O: a decision takes a command and the current state and returns the event to
record (or raises a Refused); ``evolve`` folds events into state. Every rule of the seeds about receiving and
checking dossiers lives in this package."""
