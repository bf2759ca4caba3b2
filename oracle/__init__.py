"""The FedLedger oracle node: watches the chain, verifies updates, votes and proposes aggregates.

Start from :class:`oracle.node.OracleNode` (or ``fedledger oracle run``, :mod:`oracle.cli`);
the verification rule is :mod:`oracle.verification`. Operators: docs/oracle.md.
Nothing is imported here, so that ``fedledger --help`` does not load web3 or numpy.
"""
