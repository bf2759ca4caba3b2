"""``fedledger participant``: fetch the global model, train, submit, follow the verdict.

fedledger participant model --out global.flmw
fedledger participant train --data mine.npz --out update.flmw
fedledger participant submit update.flmw --samples 5400
fedledger participant status --wait
fedledger participant run --data mine.npz --rounds 5     # all of the above, per round

One module per command.
"""

from __future__ import annotations

import click

from fedledger.cli.participant import host, model, run, status, submit, train


@click.group()
def participant() -> None:
    """Fetch the global model, train on your data, submit, and follow the verdict.

    Updates are weight files in FedLedger's canonical format (docs/ml.md); data is an
    .npz with `images` (uint8, n x 28 x 28) and `labels` (uint8). Submissions are signed
    by --key (a keystore, or dev:N on the embedded chain).
    """


participant.add_command(model.model)
participant.add_command(train.train)
participant.add_command(submit.submit)
participant.add_command(status.status)
participant.add_command(run.run)
participant.add_command(host.host)
