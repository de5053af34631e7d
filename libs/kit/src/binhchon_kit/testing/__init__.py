"""Test support shared by every service's tests: real infrastructure, unique names, tokens, polling."""
