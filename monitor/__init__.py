"""Upper layer of Vigil: the store, alarms and limits, the treatment session, the runners, the web server, the CLI."""
