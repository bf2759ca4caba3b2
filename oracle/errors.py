"""The oracle node's own exception types."""


class NotYetOnChain(RuntimeError):
    """What the node looks for is not on the chain it reads, yet: the event of a round it
    was told about, or as many ``UpdateAccepted`` events as the round counts. The node the
    oracle reads from may lag behind the chain, so this is waited out and looked at again;
    it is never a verdict on anyone. (A bug, such as a ``KeyError``, is not this: it stops
    the node with a traceback instead of being retried as an outage.)"""
