"""The session record as one self-contained HTML page: inline CSS, the trend as inline SVG, no script.

It must open from a file share or an e-mail years later, offline, and print cleanly, so nothing is
fetched from anywhere. Patient labels, notes and user names are user text: the template escapes
everything (jinja2 autoescape); only the SVG, which reportlab builds from our own drawing, is
inserted as markup.
"""

from __future__ import annotations

from datetime import tzinfo

from jinja2 import Environment
from markupsafe import Markup
from reportlab.graphics import renderSVG
from reportlab.graphics.shapes import Drawing

from monitor.report.content import report_content
from monitor.report.trend import BOLD, FONT
from monitor.session.record import SessionRecord

TREND_TITLE = "Trend: NIBP, heart rate and SpO2 over minutes from time zero"
# The drawing names PDF base fonts; a browser knows no "Helvetica-Bold" and would fall back to a serif.
SVG_FONTS = {FONT: {"family": "Helvetica, Arial, sans-serif"},
             BOLD: {"family": "Helvetica, Arial, sans-serif", "weight": "bold"}}

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ report.title }} · {{ report.subtitle }}</title>
<style>
@page { size: A4; margin: 15mm; }
body { font: 10pt/1.35 "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; color: #111;
       max-width: 62rem; margin: 1.5rem auto; padding: 0 1rem; }
h1 { font-size: 1.5em; margin: 0 0 .2em; }
h2 { font-size: 1.15em; border-bottom: 1px solid #999; margin: 1.4em 0 .4em; break-after: avoid; }
h3 { font-size: 1em; margin: .8em 0 .3em; break-after: avoid; }
.subtitle { font-size: 1.15em; margin: 0; }
.note, figcaption, footer { color: #555; font-size: .88em; }
table { border-collapse: collapse; width: 100%; margin: .3em 0 .7em; font-size: .92em; }
th, td { border: 1px solid #b5b5b5; padding: .15em .4em; text-align: left; vertical-align: top; }
td { white-space: pre-line; }
thead { display: table-header-group; }
thead th, table.fields th { background: #e9e9e9; }
table.fields th { width: 38%; }
tbody tr:nth-child(even) td { background: #f6f6f6; }
tr { break-inside: avoid; }
figure { margin: .5em 0; break-inside: avoid; print-color-adjust: exact; -webkit-print-color-adjust: exact; }
figure svg { display: block; width: 100%; height: auto; }
footer { margin-top: 2em; border-top: 1px solid #999; padding-top: .4em; }
@media print { body { max-width: none; margin: 0; padding: 0; } }
</style>
</head>
<body>
<header>
<h1>{{ report.title }}</h1>
<p class="subtitle">{{ report.subtitle }}</p>
<p class="note">{{ report.zone_note }}</p>
</header>
<main>
{% for section in report.sections %}
<section>
<h2>{{ section.title }}</h2>
{% for block in section.blocks %}
{% if block.kind == "fields" %}
<table class="fields"><tbody>
{% for label, value in block.rows %}<tr><th scope="row">{{ label }}</th><td>{{ value }}</td></tr>
{% endfor %}</tbody></table>
{% elif block.kind == "table" %}
{% if block.title %}<h3>{{ block.title }}</h3>{% endif %}
{% if block.rows %}
<table><thead><tr>{% for head in block.header %}<th scope="col">{{ head }}</th>{% endfor %}</tr></thead><tbody>
{% for row in block.rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>
{% else %}<p>{{ block.empty }}</p>{% endif %}
{% elif block.kind == "figure" %}
<figure>{{ svg(block.drawing) }}<figcaption>{{ block.caption }}</figcaption></figure>
{% else %}<p>{{ block.text }}</p>
{% endif %}
{% endfor %}
</section>
{% endfor %}
</main>
<footer>{{ report.footer }}</footer>
</body>
</html>
"""

_template = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string(TEMPLATE)


def inline_svg(drawing: Drawing) -> Markup:
    """The drawing as an `<svg>` element for inline use: no XML prolog or DTD (which names a URL),
    reportlab's "..." title placeholder replaced, clipping as a property (no page-wide ids)."""
    svg = renderSVG.drawToString(drawing, useClip=True, fontHacks=SVG_FONTS,
                                 svgAttrs={"role": "img", "aria-label": TREND_TITLE})
    svg = svg[svg.index("<svg"):]
    return Markup(svg.replace("<title>...</title>", f"<title>{TREND_TITLE}</title>").replace("<desc>...</desc>", ""))


def render_html(record: SessionRecord, tz: tzinfo) -> str:
    return _template.render(report=report_content(record, tz), svg=inline_svg)
