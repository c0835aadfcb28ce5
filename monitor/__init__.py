"""Upper layer of Vigil: store, limits, acquisition, dashboard and the `vigil` command."""
