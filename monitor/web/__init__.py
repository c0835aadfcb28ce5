"""The web server: the bed view, the stream, sign-in, the history, audit and users pages, the report routes."""

import plotly.io as pio

# Dash and the figures serialise with the standard library's json even where orjson is installed: it is faster
# for Dash component trees (plotly's orjson path walks them in Python first), and orjson 3.8.3 was seen to kill
# the server with an illegal instruction on an AMD EPYC host.
pio.json.config.default_engine = "json"
