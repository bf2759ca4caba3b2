"""Regenerate fedledger/chain/{errors,events,enums}.py from the compiled contracts.

    .venv/bin/python scripts/generate_bindings.py           # write the modules
    .venv/bin/python scripts/generate_bindings.py --check   # exit 1 if any is stale

Run it after changing a contract's errors, events or enums; the test-suite fails while
the committed modules differ from what this would write.
"""

from __future__ import annotations

import argparse
import sys

from fedledger.chain import compile_contracts
from fedledger.chain.codegen import stale_modules, write_modules
from fedledger.config import load_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report stale modules")
    args = parser.parse_args(argv)
    config = load_config()
    artifacts = compile_contracts(config)
    if args.check:
        stale = stale_modules(artifacts, config.root)
        for name in stale:
            print(f"fedledger/chain/{name} is stale: run scripts/generate_bindings.py")
        return 1 if stale else 0
    for path in write_modules(artifacts, config.root):
        print(f"wrote {path.relative_to(config.root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
