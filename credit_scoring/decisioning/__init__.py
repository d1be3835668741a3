"""Decisioning: the feature contract, the Taktile client and resource, the decision assets, the
store that keeps decisions and closes their ledger claims, and the decision checks."""
