"""What every room of the code location shares: settings, partitions, pools, crash points,
the retry policy, API-key hygiene and the warehouse connection. Nothing here knows about
Flinks, the ledger or Taktile."""
