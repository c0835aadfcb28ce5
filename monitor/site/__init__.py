"""The site: a clinic's beds, as its site.toml describes them (`vigil serve`)."""
