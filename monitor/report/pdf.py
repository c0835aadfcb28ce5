"""The session record as an A4 PDF, laid out with reportlab platypus.

Text is set in a Unicode TrueType font (DejaVu Sans where the system has it, else the Vera that ships
with reportlab), so patient labels, names and "SpO₂" print as typed; a character the font lacks is
printed in its plain form (₂ → 2) or as "?", never silently dropped. Every page names the session
and patient and carries the disclaimer, as loose pages of a chart must.
"""

from __future__ import annotations

import unicodedata
from datetime import tzinfo
from functools import cache
from io import BytesIO
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, TableStyle
from reportlab.platypus import Table as PdfTable

from monitor.report.content import Block, Fields, Figure, Report, Section, Table, report_content
from monitor.session.record import SessionRecord

REGULAR, BOLD = "VigilSans", "VigilSans-Bold"
FACES = (("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"), ("Vera.ttf", "VeraBd.ttf"))  # found on reportlab's font path
PLAIN = {"→": "->"}  # no compatibility decomposition, but an obvious plain form
PAD = 6.5  # a cell's left and right padding, plus a hair so a measured text never wraps
MARGIN = 15 * mm  # leaves a frame of 510 pt on A4: the trend drawing's width
LINE, HEAD_FILL, ZEBRA = colors.HexColor("#b5b5b5"), colors.HexColor("#e9e9e9"), colors.HexColor("#f6f6f6")


@cache
def _coverage() -> frozenset[int]:
    """Register the report font (once per process); returns the code points it can draw."""
    for regular, bold in FACES:
        try:
            faces = TTFont(REGULAR, regular), TTFont(BOLD, bold)
        except TTFError:
            continue
        for face in faces:
            pdfmetrics.registerFont(face)
        pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD, italic=REGULAR, boldItalic=BOLD)
        return frozenset(faces[0].face.charToGlyph)
    raise RuntimeError("no TrueType font found: reportlab's own Vera.ttf is missing")


def printable(text: str) -> str:
    """`text` with every character the font cannot draw replaced by a plain form of it, or "?"."""
    covered = _coverage()
    out = []
    for ch in text:
        if ord(ch) in covered or ch == "\n":
            out.append(ch)
            continue
        plain = PLAIN.get(ch) or unicodedata.normalize("NFKD", ch)
        out.append(plain if all(ord(p) in covered for p in plain) else "?")
    return "".join(out)


def _markup(text: str) -> str:
    """User text as Paragraph markup: escaped, so "<b>" in a note prints as typed."""
    return escape(printable(text)).replace("\n", "<br/>")


BODY = ParagraphStyle("body", fontName=REGULAR, fontSize=8.5, leading=11)
CELL = ParagraphStyle("cell", parent=BODY, fontSize=8, leading=9.6)
CELL_HEAD = ParagraphStyle("cell-head", parent=CELL, fontName=BOLD)
TITLE = ParagraphStyle("title", parent=BODY, fontName=BOLD, fontSize=15, leading=19)
SUBTITLE = ParagraphStyle("subtitle", parent=BODY, fontSize=10.5, leading=14)
SECTION = ParagraphStyle("section", parent=BODY, fontName=BOLD, fontSize=11.5, leading=14, spaceBefore=10,
                         spaceAfter=4, keepWithNext=1)
TABLE_TITLE = ParagraphStyle("table-title", parent=BODY, fontName=BOLD, spaceBefore=5, spaceAfter=2, keepWithNext=1)
CAPTION = ParagraphStyle("caption", parent=BODY, fontSize=7.5, leading=9.5, textColor=colors.HexColor("#555555"))
GRID = [
    ("GRID", (0, 0), (-1, -1), 0.3, LINE),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("TOPPADDING", (0, 0), (-1, -1), 2),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
    ("LEFTPADDING", (0, 0), (-1, -1), 3),
    ("RIGHTPADDING", (0, 0), (-1, -1), 3),
]


def _widths(header: tuple[str, ...], rows: tuple[tuple[str, ...], ...], width: float) -> list[float]:
    """Column widths as a browser's automatic table layout picks them: every column gets at least its
    longest word, and the rest of the width goes to the columns whose text would otherwise wrap most."""
    def measure(text: str, font: str) -> float:
        return pdfmetrics.stringWidth(printable(text), font, CELL.fontSize) + PAD

    columns = [[(h, BOLD), *((row[i], REGULAR) for row in rows)] for i, h in enumerate(header)]
    natural = [max(measure(text, font) for text, font in column) for column in columns]
    least = [max(measure(word, font) for text, font in column for word in text.split() or [""]) for column in columns]
    if sum(natural) <= width:
        return [n * width / sum(natural) for n in natural]
    if sum(least) >= width:
        return [m * width / sum(least) for m in least]
    slack = [n - m for n, m in zip(natural, least, strict=True)]
    return [m + (width - sum(least)) * s / sum(slack) for m, s in zip(least, slack, strict=True)]


def _table(block: Table, width: float) -> list[Flowable]:
    out: list[Flowable] = [Paragraph(_markup(block.title), TABLE_TITLE)] if block.title else []
    if not block.rows:
        return [*out, Paragraph(_markup(block.empty), BODY)]
    cells = [[Paragraph(_markup(h), CELL_HEAD) for h in block.header]]
    cells += [[Paragraph(_markup(cell), CELL) for cell in row] for row in block.rows]
    table = PdfTable(cells, colWidths=_widths(block.header, block.rows, width), repeatRows=1)
    table.setStyle(TableStyle([*GRID, ("BACKGROUND", (0, 0), (-1, 0), HEAD_FILL),
                               ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, ZEBRA])]))
    return [*out, table]


def _fields(block: Fields, width: float) -> Flowable:
    cells = [[Paragraph(_markup(label), CELL_HEAD), Paragraph(_markup(value), CELL)] for label, value in block.rows]
    table = PdfTable(cells, colWidths=[width * 0.38, width * 0.62])
    table.setStyle(TableStyle([*GRID, ("BACKGROUND", (0, 0), (0, -1), HEAD_FILL)]))
    return table


def _figure(block: Figure) -> list[Flowable]:
    return [block.drawing, Paragraph(_markup(block.caption), CAPTION)]


def _block(block: Block, width: float) -> list[Flowable]:
    if isinstance(block, Table):
        return _table(block, width)
    if isinstance(block, Fields):
        return [_fields(block, width), Spacer(0, 3)]
    if isinstance(block, Figure):
        return [KeepTogether(_figure(block))]
    return [Paragraph(_markup(block.text), BODY), Spacer(0, 3)]


def _section(section: Section, width: float) -> list[Flowable]:
    """A section's heading and blocks. The heading's keepWithNext cannot hold it to a KeepTogether (reportlab
    never puts one inside its keep-with-next group), so a figure that opens a section, whose drawing and caption
    must stay together, takes the heading into its own KeepTogether: never a heading alone at a page's foot."""
    heading = Paragraph(_markup(section.title), SECTION)
    first, *rest = section.blocks or (None,)
    if isinstance(first, Figure):
        return [KeepTogether([heading, *_figure(first)]), *(f for block in rest for f in _block(block, width))]
    return [heading, *(f for block in section.blocks for f in _block(block, width))]


def _story(report: Report, width: float) -> list[Flowable]:
    story: list[Flowable] = [
        Paragraph(_markup(report.title), TITLE),
        Paragraph(_markup(report.subtitle), SUBTITLE),
        Paragraph(_markup(report.zone_note), CAPTION),
    ]
    for section in report.sections:
        story += _section(section, width)
    return story


def pdf_bytes(record: SessionRecord, tz: tzinfo) -> bytes:
    """The record as PDF, built in memory."""
    report = report_content(record, tz)
    page_head = printable(f"{report.title} · {report.subtitle}")  # registers the font before the layout
    footer = printable(report.footer)

    def decorate(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(REGULAR, 7)
        canvas.setFillColor(colors.HexColor("#555555"))
        top, bottom = A4[1] - MARGIN + 5 * mm, MARGIN - 7 * mm
        canvas.drawString(MARGIN, top, page_head)
        canvas.drawRightString(A4[0] - MARGIN, top, f"page {doc.page}")
        canvas.drawString(MARGIN, bottom, footer)
        canvas.restoreState()

    buffer = BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
                            bottomMargin=MARGIN, title=report.title, author="Vigil", subject=report.subtitle)
    doc.build(_story(report, doc.width), onFirstPage=decorate, onLaterPages=decorate)
    return buffer.getvalue()

