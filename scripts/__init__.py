"""Benchmarks, the vault generator and other tools run from a checkout (never installed).

Each is run as a file (`python scripts/NAME.py`); a package too, so that tests can
`from scripts import gen_vault`.
"""
