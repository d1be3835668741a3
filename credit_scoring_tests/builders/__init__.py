"""Builders of test data, in one place for unit, integration and reliability tests: Flinks JSON
(transactions, accounts, responses), statement-export rows, applications files, and the
features a decision engine receives."""
