"""Where signing keys come from. Never from a config file.

In order of precedence:

1. an encrypted eth-account keystore (JSON V3): the ``keystore`` argument or
   ``$FEDLEDGER_KEYSTORE``, with its password from ``$FEDLEDGER_KEYSTORE_PASSWORD`` or a
   prompt the caller supplies (the CLI asks interactively);
2. a hex private key in ``$FEDLEDGER_PRIVATE_KEY``;
3. on the embedded development chain only: the well-known anvil dev accounts, derived
   from anvil's public test mnemonic (worthless anywhere else, so refused elsewhere).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path

from eth_account import Account
from eth_account.hdaccount import key_from_seed, seed_from_mnemonic
from eth_account.signers.local import LocalAccount
from eth_utils import is_hex_address, to_checksum_address

from fedledger.chain.exceptions import AccountError
from fedledger.config import NetworkSettings

#: anvil's (and Hardhat's) public development mnemonic.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_DERIVATION_PATH = "m/44'/60'/0'/0/{index}"

PRIVATE_KEY_ENV = "FEDLEDGER_PRIVATE_KEY"
KEYSTORE_ENV = "FEDLEDGER_KEYSTORE"
KEYSTORE_PASSWORD_ENV = "FEDLEDGER_KEYSTORE_PASSWORD"


def dev_account(index: int) -> LocalAccount:
    """Dev account ``index`` of the embedded chain (anvil's account list, same order)."""
    return Account.from_key(_dev_key(index))


def dev_accounts(count: int) -> list[LocalAccount]:
    return [dev_account(index) for index in range(count)]


@lru_cache(maxsize=256)
def _dev_key(index: int) -> bytes:
    # The seed derivation (PBKDF2, 2048 rounds) dominates; cache per index.
    seed = _dev_seed()
    return key_from_seed(seed, DEV_DERIVATION_PATH.format(index=index))


@lru_cache(maxsize=1)
def _dev_seed() -> bytes:
    return seed_from_mnemonic(DEV_MNEMONIC, "")


#: The fields of a JSON V3 keystore's crypto section (Web3 Secret Storage).
_KEYSTORE_CRYPTO_FIELDS = frozenset(
    {"cipher", "ciphertext", "cipherparams", "kdf", "kdfparams", "mac"}
)
_NOT_A_KEYSTORE = (
    "pass an encrypted JSON key file (`fedledger keys new` or `fedledger keys import` writes one)"
)


def keystore_address(path: Path) -> str | None:
    """The address a keystore file is for, read without its password (None if the file
    does not record it); AccountError if the file is not a JSON V3 keystore. Checked
    before any password is asked for."""
    path = Path(path)
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise AccountError(f"{path} is not a keystore (not text): {_NOT_A_KEYSTORE}") from None
    except OSError as exc:
        raise AccountError(f"cannot read keystore {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except ValueError:
        raise AccountError(f"{path} is not a keystore (not JSON): {_NOT_A_KEYSTORE}") from None
    crypto = (data.get("crypto") or data.get("Crypto")) if isinstance(data, dict) else None
    if (
        not isinstance(data, dict)
        or data.get("version") != 3
        or not isinstance(crypto, dict)
        or not crypto.keys() >= _KEYSTORE_CRYPTO_FIELDS
    ):
        raise AccountError(
            f"{path} is JSON but not a keystore (version 3 with a crypto section): "
            + _NOT_A_KEYSTORE
        )
    address = data.get("address")
    if not isinstance(address, str) or not is_hex_address("0x" + address.removeprefix("0x")):
        return None
    return to_checksum_address("0x" + address.removeprefix("0x"))


def load_keystore(path: Path, password: str) -> LocalAccount:
    """Decrypt a JSON V3 keystore file (as written by geth, clef or eth-account)."""
    keystore_address(path)
    encrypted = json.loads(Path(path).read_text())
    try:
        return Account.from_key(Account.decrypt(encrypted, password))
    except ValueError as exc:
        raise AccountError(f"cannot decrypt keystore {path}: wrong password?") from exc
    except (KeyError, TypeError) as exc:
        raise AccountError(f"{path} is a damaged keystore ({exc!r} is missing or wrong)") from None


def write_keystore(
    account: LocalAccount, path: Path, password: str, *, overwrite: bool = True
) -> Path:
    """Encrypt ``account`` into a keystore file readable only by its owner (refused if the
    file exists, unless ``overwrite``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    encrypted = Account.encrypt(account.key, password)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        descriptor = os.open(path, flags, 0o600)
    except FileExistsError:
        raise AccountError(f"{path} exists: choose another --out, or remove it first") from None
    with os.fdopen(descriptor, "w") as handle:
        json.dump(encrypted, handle)
    return path


def resolve_account(
    network: NetworkSettings,
    *,
    keystore: Path | None = None,
    password_prompt: Callable[[], str] | None = None,
    dev_index: int = 0,
    environ: Mapping[str, str] | None = None,
) -> LocalAccount:
    """The signing account for ``network`` (see the module docstring for the order)."""
    env = os.environ if environ is None else environ
    keystore_path = keystore or (Path(env[KEYSTORE_ENV]) if env.get(KEYSTORE_ENV) else None)
    if keystore_path is not None:
        keystore_address(keystore_path)  # a file that is no keystore is refused before the prompt
        password = env.get(KEYSTORE_PASSWORD_ENV)
        if password is None:
            if password_prompt is None:
                raise AccountError(
                    f"keystore {keystore_path} needs a password: set {KEYSTORE_PASSWORD_ENV} "
                    "or run interactively"
                )
            password = password_prompt()
        return load_keystore(keystore_path, password)

    private_key = env.get(PRIVATE_KEY_ENV)
    if private_key:
        try:
            return Account.from_key(private_key.strip())
        except ValueError as exc:
            raise AccountError(f"{PRIVATE_KEY_ENV} is not a valid private key: {exc}") from None

    if network.has_dev_accounts:
        if not 0 <= dev_index < network.accounts:
            raise AccountError(
                f"dev account {dev_index} does not exist: the embedded chain has "
                f"{network.accounts} accounts (0..{network.accounts - 1})"
            )
        return dev_account(dev_index)
    raise AccountError(
        f"network {network.name!r} needs a signing key: pass --key PATH (or set "
        f"{KEYSTORE_ENV}), or set {PRIVATE_KEY_ENV}; dev accounts exist only on the "
        "embedded chain"
    )
