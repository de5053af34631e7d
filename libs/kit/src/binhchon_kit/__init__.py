"""What every binhchon service shares: the event contract, the event store, the relay, consumers, auth and
the application skeleton. Nothing here knows a service's domain."""
