import os

# The suite polls public routes (receipts, /verify, the registry) far faster than a person: no rate limit in
# tests, unless a test sets one (binhchon_kit.ratelimit); processes the tests start inherit this.
os.environ.setdefault("PUBLIC_REQUESTS_PER_MINUTE", "0")

pytest_plugins = ["binhchon_kit.testing.fixtures"]
