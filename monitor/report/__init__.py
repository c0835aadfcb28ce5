"""The session record for the chart ("vigil report"), as PDF and as HTML.

`content` turns a `SessionRecord` into sections of plain text once; the PDF and HTML writers only
lay those out, so both documents say the same thing in the same order. The trend figure is one
reportlab Drawing, drawn into the PDF and rendered as inline SVG for the HTML page.
"""
