"""Resources: Flinks, Taktile (abstract, mock, HTTP), the ledger and the lake.

Which implementation each deployment binds is decided in one place:
:mod:`credit_scoring.resources.bindings`.
"""
