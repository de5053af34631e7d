"""Certification's rules, with no I/O: what a certificate says, its number, its validity, its lifecycle."""
