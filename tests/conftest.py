"""Fixtures shared by every test directory live in tests/fixtures/, one module per real part."""

pytest_plugins = [
    "tests.fixtures.chain",
    "tests.fixtures.consortium",
    "tests.fixtures.ipfs",
    "tests.fixtures.ml",
    "tests.fixtures.servers",
]
