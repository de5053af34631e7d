"""Notify's rules, with no I/O: who is told what about each event, and when reminders fall due."""
