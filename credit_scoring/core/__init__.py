"""What every room of the code location shares: settings, partitions, crash points, the retry
policy and API-key hygiene. Nothing here knows about
Flinks, the ledger or Taktile."""
