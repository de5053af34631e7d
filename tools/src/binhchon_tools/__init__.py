"""Operator and auditor command lines."""
