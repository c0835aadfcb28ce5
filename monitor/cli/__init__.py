"""The `vigil` command, one module per command group."""
