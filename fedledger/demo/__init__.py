"""``fedledger demo``: end-to-end federated learning on MNIST with real oracle and
participant processes, a chain and a blob store (see :mod:`fedledger.demo.runner`)."""

from fedledger.demo.config import ATTACKS, DemoConfig
from fedledger.demo.errors import DemoError
from fedledger.demo.report import DemoReport, ParticipantRecord, RoundRecord
from fedledger.demo.runner import DemoObserver, run_demo

__all__ = [
    "ATTACKS",
    "DemoConfig",
    "DemoError",
    "DemoObserver",
    "DemoReport",
    "ParticipantRecord",
    "RoundRecord",
    "run_demo",
]
