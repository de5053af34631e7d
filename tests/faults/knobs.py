"""The fault suite's sizes and durations, from the environment (tests/faults/conftest.py says which)."""

import os

N = int(os.environ.get("FAULTS_N", "100"))
CONCURRENCY = int(os.environ.get("FAULTS_CONCURRENCY", "6"))
BROKER_DOWN = float(os.environ.get("FAULTS_BROKER_DOWN_SECONDS", "60"))
STORE_DOWN = float(os.environ.get("FAULTS_STORE_DOWN_SECONDS", "30"))
