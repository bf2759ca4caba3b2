"""FedLedger: federated learning coordinated by an Ethereum smart contract.

The code is cut in tiers that import only downwards (docs/architecture.md; checked by
tests/test_layers.py):

- faces: :mod:`fedledger.cli`, :mod:`fedledger.demo`, :mod:`fedledger.dashboard`;
- queries: :mod:`fedledger.queries`, the read models of the ledger the faces show;
- roles: :mod:`fedledger.participant`, the ``oracle`` package, :mod:`fedledger.admin`;
- core: :mod:`fedledger.chain`, :mod:`fedledger.storage`, :mod:`fedledger.ml`,
  :mod:`fedledger.crypto`, which know nothing of each other;
- base: :mod:`fedledger.config`, :mod:`fedledger.threads`, :mod:`fedledger.units`.
"""

__version__ = "0.1.0"
