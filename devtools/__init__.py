"""Developer tools, outside the code location: the demo, the local Dagster UI with the mock
APIs, an in-process runner for a day or a range, and the local instance's dagster.yaml."""
