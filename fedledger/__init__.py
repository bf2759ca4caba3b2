"""FedLedger: federated learning coordinated by an Ethereum smart contract.

Subpackages, each knowing nothing of the others or of their users:

- :mod:`fedledger.chain`   compile, deploy and typed bindings of the contracts
- :mod:`fedledger.storage` content-addressed blob stores (embedded and IPFS)
- :mod:`fedledger.ml`      datasets, models, training, weight codec, deterministic
                           evaluation and aggregation

:mod:`fedledger.participant` (the participant client) and the ``oracle`` package
(the verifier node) are built on those three.
"""

__version__ = "0.1.0"
