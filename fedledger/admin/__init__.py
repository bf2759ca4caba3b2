"""The consortium admin's role: what the admin does beyond single contract calls, in one
place for the command line (``fedledger admin start``) and the demo."""

from fedledger.admin.genesis import Genesis, genesis_from_blob, seeded_genesis, start_training

__all__ = ["Genesis", "genesis_from_blob", "seeded_genesis", "start_training"]
