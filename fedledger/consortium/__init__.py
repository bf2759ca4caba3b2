"""A local consortium: one geth Clique signer, one Kubo node and one oracle per organisation.

`fedledger consortium up|down|status` and `fedledger demo --network consortium` start and
stop it through :mod:`fedledger.consortium.network`; docs/consortium.md describes it.
"""
