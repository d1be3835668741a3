"""The mock server: every Flinks route, the Taktile decide route, behaviour switches, the data
store and the generator; one module per route or concern."""
