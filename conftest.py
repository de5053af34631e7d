import os

from hypothesis import settings

# The suite polls public routes (receipts, /verify, the registry) far faster than a person: no rate limit in
# tests, unless a test sets one (binhchon_kit.ratelimit); processes the tests start inherit this.
os.environ.setdefault("PUBLIC_REQUESTS_PER_MINUTE", "0")

pytest_plugins = ["binhchon_kit.testing.fixtures"]

# Property tests judge answers, not speed: Hypothesis's default deadline (200 ms per example) failed examples that
# were merely slow on a loaded 2-core machine (CI runs the suite beside the broker, the store and the services).
# Every property test runs without a deadline; each file's @settings still sets its own example counts.
settings.register_profile("binhchon", deadline=None)
settings.load_profile("binhchon")
