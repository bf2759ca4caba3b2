"""One connection to an EVM JSON-RPC node: calls, locally signed transactions, logs.

Transactions are signed here with an eth-account key and sent raw. The client keeps each
account's next nonce and a short-lived fee quote itself instead of letting web3 fill them
(which costs several RPC round trips per transaction and halves throughput, see
TOOLCHAIN.md). Gas is estimated per transaction: the estimate doubles as a dry run, so a
call that would revert raises its decoded custom error before anything is sent or paid.

The hot path speaks raw JSON-RPC through the web3 provider; the :class:`web3.Web3` object
(with the PoA middleware when the network needs it) stays available as ``client.w3``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.middleware import ExtraDataToPOAMiddleware
from web3.types import RPCEndpoint

from fedledger import units
from fedledger.chain.abi import AbiRegistry
from fedledger.chain.event_base import ChainEvent
from fedledger.chain.exceptions import ChainError, ContractRevert, TransactionFailed
from fedledger.chain.heads import HeadWatcher, head_watcher
from fedledger.config import NetworkSettings

E = TypeVar("E", bound=ChainEvent)

#: Headroom on estimated gas: the state may change between estimation and mining.
GAS_MARGIN = 1.25
#: Fallback priority fee when a node does not answer eth_maxPriorityFeePerGas.
DEFAULT_PRIORITY_FEE = 1_000_000_000


class RpcError(ChainError):
    """The node answered a JSON-RPC request with an error."""

    def __init__(self, method: str, error: Mapping[str, Any]) -> None:
        self.method = method
        self.code = error.get("code")
        self.data = error.get("data")
        self.rpc_message = str(error.get("message", ""))
        super().__init__(f"{method} failed: {self.rpc_message} (code {self.code})")

    @property
    def revert_data(self) -> bytes | None:
        """The revert data of an ``execution reverted`` error, if the node returned it."""
        data = self.data
        if isinstance(data, Mapping):  # some nodes nest it: {"data": "0x..."}
            data = data.get("data")
        if isinstance(data, str) and data.startswith("0x"):
            return bytes(HexBytes(data))
        if "revert" in self.rpc_message.lower():
            return b""
        return None


@dataclass(frozen=True)
class TxResult:
    """A mined, successful transaction and the events it emitted (decoded)."""

    tx_hash: str
    block_number: int
    gas_used: int
    events: tuple[ChainEvent, ...]
    contract_address: str | None = None

    def events_of(self, event_type: type[E]) -> list[E]:
        return [event for event in self.events if isinstance(event, event_type)]

    def event(self, event_type: type[E]) -> E:
        """The one event of this type; raises LookupError if there is none or several."""
        found = self.events_of(event_type)
        if len(found) != 1:
            raise LookupError(f"expected one {event_type.__name__} event, found {len(found)}")
        return found[0]


def connect_web3(network: NetworkSettings, *, timeout: float = 30.0) -> Web3:
    """A Web3 for the network's RPC URL, with the PoA middleware if the config says so."""
    if not network.rpc_url:
        raise ChainError(
            f"network {network.name!r} has no RPC URL: set the environment variable its "
            "`host_env` names (FEDLEDGER_RPC_URL for `external`)"
        )
    w3 = Web3(Web3.HTTPProvider(network.rpc_url, request_kwargs={"timeout": timeout}))
    if network.poa:
        w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3


class ChainClient:
    """Calls, transactions and logs against one node, decoded with an :class:`AbiRegistry`.

    Safe to share between threads: nonces are handed out under a lock.
    """

    def __init__(
        self,
        w3: Web3,
        registry: AbiRegistry,
        *,
        fee_ttl: float = 2.0,
        receipt_timeout: float = 120.0,
        max_log_range: int = 10_000,
    ) -> None:
        self.w3 = w3
        self.registry = registry
        self.fee_ttl = fee_ttl
        self.receipt_timeout = receipt_timeout
        self.max_log_range = max_log_range
        self._chain_id: int | None = None
        self._nonces: dict[str, int] = {}
        self._nonce_lock = threading.Lock()
        self._fees: tuple[float, dict[str, int]] | None = None

    # ---- raw JSON-RPC -----------------------------------------------------------------

    def rpc(self, method: str, params: Sequence[Any] = ()) -> Any:
        """One JSON-RPC request; raises :class:`RpcError` with the node's error."""
        try:
            response = self.w3.provider.make_request(RPCEndpoint(method), list(params))
        except OSError as exc:
            raise ChainError(
                f"cannot reach the chain at {getattr(self.w3.provider, 'endpoint_uri', '?')}: "
                f"{exc}; is the node running (`fedledger chain up` for the embedded one)?"
            ) from exc
        if "error" in response:
            raise RpcError(method, response["error"])
        return response.get("result")

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.rpc("eth_chainId"), 16)
        return self._chain_id

    def block_number(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    # ---- waiting for a change ------------------------------------------------------------

    @property
    def heads(self) -> HeadWatcher:
        """The process's watcher of this node's new blocks (fedledger.chain.heads)."""
        return head_watcher(self.endpoint)

    def event_watcher(self, address: str, event_types: Sequence[type[ChainEvent]]) -> HeadWatcher:
        """The process's watcher of the blocks with an event of ``event_types`` emitted by
        ``address``: take its ``mark()`` before reading what you wait for, then
        ``wait(mark, poll_interval)``."""
        topics = [[self.registry.topic_filters(t.__name__, {})[0] for t in event_types]]
        return head_watcher(self.endpoint, {"address": address, "topics": topics})

    def change_mark(self) -> int:
        """Take before reading what you wait for; then :meth:`wait_for_change`."""
        return self.heads.mark()

    def wait_for_change(self, mark: int, poll_interval: float) -> None:
        """Sleep until a block newer than ``mark`` is announced (a subscription to new
        heads), or ``poll_interval`` seconds where the node pushes none."""
        self.heads.wait(mark, poll_interval)

    @property
    def endpoint(self) -> str:
        """The node's RPC URL (empty for a provider without one), which the watchers of
        :mod:`fedledger.chain.heads` turn into its WebSocket URL."""
        return str(getattr(self.w3.provider, "endpoint_uri", ""))

    def balance(self, address: str) -> int:
        return int(self.rpc("eth_getBalance", [address, "latest"]), 16)

    def code(self, address: str) -> bytes:
        return bytes(HexBytes(self.rpc("eth_getCode", [address, "latest"])))

    def chain_time(self) -> int:
        """The chain's clock: the timestamp the next block will carry (the pending
        block's), which is what the next transaction's ``block.timestamp`` sees. The latest
        block's timestamp is stale on a chain that mines only on transactions (anvil,
        Clique with period 0); a node without a pending block gives that one."""
        latest = int(self.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
        try:
            pending = self.rpc("eth_getBlockByNumber", ["pending", False])
        except RpcError:
            return latest
        return max(latest, int(pending["timestamp"], 16)) if pending else latest

    def genesis_hash(self) -> str:
        """Hash of block 0: tells a restarted development chain from the one deployed to."""
        return str(self.rpc("eth_getBlockByNumber", ["0x0", False])["hash"])

    # ---- calls and transactions --------------------------------------------------------

    def call(
        self,
        to: str,
        data: bytes,
        *,
        sender: str | None = None,
        context: str = "",
        block: str = "latest",
    ) -> bytes:
        """``eth_call`` at ``block`` (``"pending"``: as the next transaction would see the
        chain, clock included); a revert raises its decoded error."""
        request: dict[str, Any] = {"to": to, "data": "0x" + data.hex()}
        if sender:
            request["from"] = sender
        try:
            return bytes(HexBytes(self.rpc("eth_call", [request, block])))
        except RpcError as exc:
            raise self._revert_or(exc, context) from None

    def transact(
        self,
        account: LocalAccount,
        to: str | None,
        data: bytes,
        *,
        value: int = 0,
        gas: int | None = None,
        min_gas: int = 0,
        context: str = "",
    ) -> TxResult:
        """Sign and send a transaction, wait for its receipt, decode its events.

        Without ``gas``, the gas is estimated (a revert raises the decoded error before
        sending) and raised by :data:`GAS_MARGIN`, to at least ``min_gas``: functions whose
        cost depends on other transactions landing first (the settling vote) pass their
        worst case there. ``to=None`` deploys ``data`` as creation code.
        """
        request: dict[str, Any] = {"from": account.address, "data": "0x" + data.hex()}
        if to is not None:
            request["to"] = to
        if value:
            request["value"] = hex(value)
        if gas is None:
            try:
                estimate = int(self.rpc("eth_estimateGas", [request]), 16)
            except RpcError as exc:
                raise self._revert_or(exc, context) from None
            gas = max(int(estimate * GAS_MARGIN), min_gas)

        for attempt in (1, 2):
            nonce = self._take_nonce(account.address)
            transaction: dict[str, Any] = {
                "chainId": self.chain_id,
                "nonce": nonce,
                "gas": gas,
                "value": value,
                "data": data,
                **self._fee_fields(),
            }
            if to is not None:
                transaction["to"] = to
            signed = account.sign_transaction(transaction)
            try:
                tx_hash = self.rpc("eth_sendRawTransaction", ["0x" + signed.raw_transaction.hex()])
                break
            except RpcError as exc:
                self._forget_nonce(account.address)
                if attempt == 1 and _is_nonce_error(exc):
                    continue  # another process used this account: resync the nonce once
                raise
        receipt = self.wait_for_receipt(tx_hash)
        if int(receipt["status"], 16) != 1:
            self._raise_failure(request, receipt, gas, context)
        created = receipt.get("contractAddress")
        return TxResult(
            tx_hash=tx_hash,
            block_number=int(receipt["blockNumber"], 16),
            gas_used=int(receipt["gasUsed"], 16),
            events=tuple(self.decode_logs(receipt["logs"])),
            contract_address=to_checksum_address(created) if created else None,
        )

    def wait_for_receipt(self, tx_hash: str) -> dict[str, Any]:
        """Poll for the receipt: at once (automining dev chains answer immediately), then
        with a growing interval up to one second."""
        deadline = time.monotonic() + self.receipt_timeout
        interval = 0.01
        while True:
            receipt = self.rpc("eth_getTransactionReceipt", [tx_hash])
            if receipt is not None:
                return dict(receipt)
            if time.monotonic() > deadline:
                raise ChainError(
                    f"transaction {tx_hash} not mined after {self.receipt_timeout:.0f} s; "
                    "is the chain producing blocks?"
                )
            time.sleep(interval)
            interval = min(interval * 2, 1.0)

    # ---- logs --------------------------------------------------------------------------

    def decode_logs(self, logs: Iterable[Mapping[str, Any]]) -> list[ChainEvent]:
        decoded = (self.registry.decode_log(log) for log in logs)
        return [event for event in decoded if event is not None]

    def get_events(
        self,
        event_type: type[E],
        address: str | Sequence[str],
        from_block: int = 0,
        to_block: int | None = None,
        **filters: Any,
    ) -> list[E]:
        """Events of one type emitted by ``address`` in ``[from_block, to_block]`` (to the
        latest block by default), in chain order. ``filters`` match indexed parameters by
        snake_case name, e.g. ``get_events(UpdateSubmitted, coordinator, round=3)``."""
        topics = self.registry.topic_filters(event_type.__name__, filters)
        events = self._logs(address, topics, from_block, to_block)
        return [event for event in events if isinstance(event, event_type)]

    def _logs(
        self,
        address: str | Sequence[str],
        topics: list[Any],
        from_block: int,
        to_block: int | None,
    ) -> list[ChainEvent]:
        last = self.block_number() if to_block is None else to_block
        found: list[ChainEvent] = []
        start = from_block
        while start <= last:
            end = min(start + self.max_log_range - 1, last)
            request = {
                "address": address if isinstance(address, str) else list(address),
                "fromBlock": hex(start),
                "toBlock": hex(end),
                "topics": topics,
            }
            found.extend(self.decode_logs(self.rpc("eth_getLogs", [request])))
            start = end + 1
        return sorted(found, key=lambda event: event.position)

    # ---- internals ---------------------------------------------------------------------

    def _take_nonce(self, address: str) -> int:
        with self._nonce_lock:
            nonce = self._nonces.get(address)
            if nonce is None:
                nonce = int(self.rpc("eth_getTransactionCount", [address, "pending"]), 16)
            self._nonces[address] = nonce + 1
            return nonce

    def _forget_nonce(self, address: str) -> None:
        with self._nonce_lock:
            self._nonces.pop(address, None)

    def reset(self) -> None:
        """Forget cached nonces and fees (after reverting a development chain to a snapshot,
        both may belong to a state that no longer exists)."""
        with self._nonce_lock:
            self._nonces.clear()
        self._fees = None

    def _fee_fields(self) -> dict[str, int]:
        """EIP-1559 fees with room for the base fee to double, or a legacy gas price on chains
        without a base fee; quoted at most every ``fee_ttl`` seconds."""
        now = time.monotonic()
        if self._fees is not None and now - self._fees[0] < self.fee_ttl:
            return self._fees[1]
        block = self.rpc("eth_getBlockByNumber", ["latest", False])
        base_fee = block.get("baseFeePerGas")
        if base_fee is None:
            fields = {"gasPrice": int(self.rpc("eth_gasPrice"), 16)}
        else:
            try:
                priority = int(self.rpc("eth_maxPriorityFeePerGas"), 16)
            except RpcError:
                priority = DEFAULT_PRIORITY_FEE
            fields = {
                "maxFeePerGas": 2 * int(base_fee, 16) + priority,
                "maxPriorityFeePerGas": priority,
            }
        self._fees = (now, fields)
        return fields

    def _revert_or(self, exc: RpcError, context: str) -> ChainError:
        data = exc.revert_data
        if data is None:
            return exc
        error = self.registry.decode_revert(data, context)
        if isinstance(error, ContractRevert) and units.TIME_FIELDS & set(error.arguments):
            # A deadline in the message is worth saying relative to the chain's clock.
            with contextlib.suppress(ChainError):
                error.at_chain_time(self.chain_time())
        return error

    def _raise_failure(
        self, request: dict[str, Any], receipt: Mapping[str, Any], gas: int, context: str
    ) -> None:
        """A mined transaction failed: replay it on the parent block for the revert reason."""
        block = int(receipt["blockNumber"], 16)
        used = int(receipt["gasUsed"], 16)
        try:
            self.rpc("eth_call", [request, hex(max(block - 1, 0))])
        except RpcError as exc:
            raise self._revert_or(exc, context) from None
        raise TransactionFailed(
            f"{context or 'transaction'} {receipt['transactionHash']} failed in block {block} "
            f"(gas used {used} of {gas}); replaying it before that block succeeds, so either it "
            "ran out of gas or an earlier transaction in the block changed the state"
        )


def _is_nonce_error(exc: RpcError) -> bool:
    message = exc.rpc_message.lower()
    return "nonce" in message or "already known" in message or "underpriced" in message


@dataclass(frozen=True)
class StreamChanges:
    """What one :meth:`EventStream.poll_changes` saw: events newly buried deep enough, in
    chain order, and earlier-delivered events whose blocks a reorganisation replaced (the
    consumer undoes them; the new chain's events arrive as ``added``)."""

    added: list[ChainEvent]
    removed: list[ChainEvent]
    reorg_from: int | None = None  # first block that changed, if a reorganisation was seen


class EventStream:
    """Follows the chain from ``from_block`` on: each :meth:`poll` returns the events of the
    chosen types emitted since the previous poll, in chain order (one ``eth_getLogs`` per
    poll, so it works with any node, no filters or subscriptions kept on the server).

    ``confirmations`` holds back the newest blocks: an event is delivered once that many
    blocks are built on top of its block (0: at once, for a dev chain that never
    reorganises). Deeper reorganisations are still detected: the stream remembers the hash
    of every block it read up to (the last ``history`` of them) and, when one changed,
    reports the events it delivered from that block on as removed and reads them again.
    ``next_block`` is the resume point to persist across restarts.

    Between polls, a follower can sleep until there is something to read: take
    :meth:`mark` before a poll and :meth:`wait` after it. Without confirmations that wakes
    on the blocks that carry the stream's events (pushed by the node,
    :mod:`fedledger.chain.heads`), with confirmations on every new block (the events
    become deliverable as blocks pile up); where the node pushes nothing, it sleeps the
    poll interval.
    """

    def __init__(
        self,
        client: ChainClient,
        addresses: Sequence[str],
        event_types: Sequence[type[ChainEvent]],
        from_block: int = 0,
        *,
        confirmations: int = 0,
        history: int = 128,
    ) -> None:
        self.client = client
        self.addresses = list(addresses)
        self.topics = [
            [
                client.registry.topic_filters(event_type.__name__, {})[0]
                for event_type in event_types
            ]
        ]
        self.next_block = from_block
        self.confirmations = confirmations
        self.history = history
        self._hashes: dict[int, str] = {}  # block number -> hash, of the blocks read up to
        self._delivered: list[ChainEvent] = []  # events of the blocks in _hashes' window

    @property
    def watcher(self) -> HeadWatcher:
        """What :meth:`wait` sleeps on (the process's watcher, shared by every stream of the
        same events)."""
        if self.confirmations:
            return self.client.heads
        return head_watcher(
            self.client.endpoint, {"address": self.addresses, "topics": self.topics}
        )

    def mark(self) -> int:
        """Take before :meth:`poll`; then :meth:`wait` with it."""
        return self.watcher.mark()

    def wait(self, mark: int, poll_interval: float) -> None:
        """Sleep until the node announces a block the next poll should read (see the class
        docstring), or ``poll_interval`` where it announces none."""
        self.watcher.wait(mark, poll_interval)

    def poll(self) -> list[ChainEvent]:
        """The events delivered by this poll (removed ones are dropped: see poll_changes)."""
        return self.poll_changes().added

    def poll_changes(self) -> StreamChanges:
        removed: list[ChainEvent] = []
        fork = self._fork_point()
        if fork is not None:
            removed = [event for event in self._delivered if event.block_number >= fork]
            self._delivered = [event for event in self._delivered if event.block_number < fork]
            self._hashes = {n: h for n, h in self._hashes.items() if n < fork}
            self.next_block = min(self.next_block, fork)
        last = self.client.block_number() - self.confirmations
        if last < self.next_block:
            return StreamChanges([], removed, fork)
        events = self.client._logs(self.addresses, self.topics, self.next_block, last)
        self._hashes[last] = self._block_hash(last)
        self.next_block = last + 1
        self._delivered.extend(events)
        self._trim()
        return StreamChanges(events, removed, fork)

    def _fork_point(self) -> int | None:
        """The first remembered block whose hash changed, or None if the newest is intact
        (a block's hash covers all its ancestors, so checking the newest is enough)."""
        if not self._hashes:
            return None
        newest = max(self._hashes)
        if self._block_hash(newest) == self._hashes[newest]:
            return None
        changed = newest
        for number in sorted(self._hashes, reverse=True):
            if self._block_hash(number) != self._hashes[number]:
                changed = number
            else:
                return number + 1
        # Every remembered block changed: re-read from just after the oldest one's parent.
        oldest_delivered = min((e.block_number for e in self._delivered), default=changed)
        return min(changed, oldest_delivered)

    def _block_hash(self, number: int) -> str:
        block = self.client.rpc("eth_getBlockByNumber", [hex(number), False])
        return str(block["hash"]) if block else ""

    def _trim(self) -> None:
        if len(self._hashes) <= self.history:
            return
        keep = sorted(self._hashes)[-self.history :]
        self._hashes = {number: self._hashes[number] for number in keep}
        self._delivered = [e for e in self._delivered if e.block_number > keep[0]]
