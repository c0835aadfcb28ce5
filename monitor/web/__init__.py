"""The web server: the bed view, the stream, sign-in, the history, audit and users pages, the report routes."""
