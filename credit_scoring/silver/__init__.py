"""Bronze responses -> typed, validated, standardised silver accounts and transactions."""
