pytest_plugins = ["binhchon_kit.testing.fixtures"]
