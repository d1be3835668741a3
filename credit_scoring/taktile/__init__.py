"""Taktile decision client: the only code that speaks HTTP to the decision engine."""
