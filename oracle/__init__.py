"""The FedLedger oracle node: watches the chain, verifies updates, votes and proposes aggregates."""
