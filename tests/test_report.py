"""The session record ("vigil report") as PDF and HTML, from a real store with alarms from the real engine."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dash
import pytest
from flask import Flask
from markupsafe import escape
from pypdf import PdfReader
from reportlab.graphics import renderSVG
from support import sqlite_only

from adapters.model.reading import Event, Reading
from monitor.alarms.live import LiveAlarms
from monitor.alarms.text import alarm_text, peak_text
from monitor.limits.model import load_preset
from monitor.report.html import render_html
from monitor.report.pdf import pdf_bytes
from monitor.report.trend import LEFT, RIGHT, WIDTH, thin, trend_drawing
from monitor.session.record import session_record
from monitor.store import Store
from monitor.timeutil import EPOCH
from monitor.web.report_routes import register_report_routes

BERLIN = ZoneInfo("Europe/Berlin")  # CET in November: UTC+1
T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)
DEVICE_1 = T0 + timedelta(minutes=15)
T_END = DEVICE_1 + timedelta(minutes=125)
ACK = DEVICE_1 + timedelta(minutes=61, seconds=30)  # the nurse presses "acknowledge" (wall = session clock)
# Minutes from the first device: two pre-dose measurements (mean 148/93, over the 140/90 gate), the 40-min
# check at +41 (over the SYS high limit 179 and the rise limit 148 + 39), and one before the end.
NIBP = {-10: (146, 92, 110), -3: (150, 94, 113), 41: (190, 100, 130), 70: (160, 90, 113), 100: (150, 88, 109),
        120: (140, 86, 104)}
SPO2_DIP = (60, 61)  # minutes: SpO2 91 %, below the critical low 92 for a whole minute (a high-priority alarm)
NOTE = "patient drowsy"
SCRIPT_NOTE = "<script>document.title = 'injected'</script>"


def at(minutes: float) -> datetime:
    return DEVICE_1 + timedelta(minutes=minutes)


def esketamine_data() -> tuple[list[Reading], list[Event]]:
    readings = []
    t = T0
    while t <= T_END:  # HR and SpO2 every 5 s
        m = (t - DEVICE_1).total_seconds() / 60
        readings.append(Reading(t, "hr", 72 + int(t.timestamp()) % 4))
        readings.append(Reading(t, "spo2", 91 if SPO2_DIP[0] <= m < SPO2_DIP[1] else 97 + int(t.timestamp()) % 2))
        t += timedelta(seconds=5)
    for m, (sys_, dia, mean) in NIBP.items():
        t = at(m) + timedelta(seconds=2)
        readings += [Reading(t, "sbp", sys_), Reading(t, "dbp", dia), Reading(t, "map", mean)]
    readings.sort(key=lambda r: r.time)
    return readings, [Event(at(0), "device_1"), Event(at(5), "device_2")]


def make_esketamine_session(store: Store) -> int:
    sid = store.sessions.create("s", "replay", bed="bed-3", session_type="esketamine", patient_label="MRN-0042")
    limits = load_preset("esketamine").to_dict()
    store.limits.save(sid, limits, T0, who="dr.a")
    alarms = LiveAlarms(store, sid)
    readings, events = esketamine_data()
    first, events = events[0], events[1:]  # the first device is entered on screen, past the gate with a reason
    store.samples.enter_event(sid, Event(first.time, first.kind, source="entered"), "nurse.b", at(-1),
                              proceed=("pre-dose BP gate", "reason text"))
    store.samples.write(sid, readings, events)
    changed = {**limits, "vitals": {**limits["vitals"], "spo2": {**limits["vitals"]["spo2"], "low": 93.0}}}
    store.limits.save(sid, changed, at(50), who="dr.a")
    alarms.process(readings, events)
    alarms.tick(T_END)
    store.alarms.acknowledge(sid, "nurse.b", ACK, ACK)
    store.samples.enter_event(sid, Event(at(35), "note", NOTE, source="entered"), "nurse.b", at(35))
    store.samples.enter_event(sid, Event(at(36), "note", SCRIPT_NOTE, source="entered"), "nurse.b", at(36))
    store.sessions.end(sid, "dr.a", T_END, T_END, override=None, ready_min=95)
    return sid


@pytest.fixture
def esketamine(db: str) -> Iterator[tuple[Store, int]]:
    store = Store(db)
    yield store, make_esketamine_session(store)
    store.close()


def flat(text: str) -> str:
    """Whitespace collapsed: a table cell that wraps still reads as one phrase."""
    return " ".join(text.split())


def pdf_text(data: bytes) -> str:
    return flat(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages))


def expected_phrases(store: Store, sid: int) -> list[str]:
    """What the chart must show for this session, in the report's wording, with Berlin times."""
    record = session_record(store, sid)
    assert len(record.alarms) >= 3, "the engine raised the NIBP and SpO2 alarms"
    spo2 = next(a for a in record.alarms if a.episode.vital == "spo2")
    assert spo2.episode.end is not None
    end = spo2.episode.end.astimezone(BERLIN).strftime("%Y-%m-%d %H:%M:%S")
    return [
        "Patient label MRN-0042",
        "Bed bed-3",
        "Session type Esketamine (intranasal)",
        "Mean (SYS/DIA) 148/93 mmHg",
        "baseline BP 148/93 is above 140/90 mmHg",
        "nurse.b reason text",
        "2026-11-20 10:12:02 -3.0 150 94 113",  # a baseline measurement row, in CET
        "BP prior to administration 150/94 mmHg at 2026-11-20 10:12:02 (-3.0 min)",
        "BP 40 min post-administration 190/100 mmHg at 2026-11-20 10:56:02 (+41.0 min)",
        "BP prior to treatment session completion 140/86 mmHg at 2026-11-20 12:15:02 (+120.0 min)",
        "Total minutes from first device to completion of monitoring 125",
        "Would have been ready to leave at (min from first device) 95",
        f"+35.0 note {NOTE} nurse.b",
        "vitals.spo2.low 94 → 93",  # as audited
        "Ended by dr.a",
        *(alarm_text(a.episode) for a in record.alarms),
        # its peak (the lowest SpO2), and the acknowledgement: who and when
        f"{alarm_text(spo2.episode)} {peak_text(spo2.episode)} {end} nurse.b 2026-11-20 11:16:30",
        "Decision support only — not a medical device.",
    ]


def test_pdf_holds_the_sessions_own_values(esketamine: tuple[Store, int]) -> None:
    store, sid = esketamine
    text = pdf_text(pdf_bytes(session_record(store, sid), BERLIN))
    for phrase in expected_phrases(store, sid):
        assert phrase in text, phrase
    assert "Times are CET." in text
    assert SCRIPT_NOTE in text  # user text printed as typed, not taken for markup
    assert text.index("Limits used") < text.index("Baseline (pre-dose)") < text.index("NIBP measurements") \
        < text.index("Continuous vitals") < text.index("Checkpoints") < text.index("Alarms") \
        < text.index("Events and notes") < text.index("REMS patient monitoring form") < text.index("Discharge")


def test_html_holds_the_same_values_and_escapes_user_text(esketamine: tuple[Store, int]) -> None:
    store, sid = esketamine
    html = render_html(session_record(store, sid), BERLIN)

    cells = flat(re.sub(r"<[^>]+>", " ", html))
    for phrase in expected_phrases(store, sid):
        assert str(escape(phrase)) in cells, phrase
    assert "<script" not in html
    assert "&lt;script&gt;document.title = &#39;injected&#39;&lt;/script&gt;" in html
    assert "<svg" in html and "<polyline" in html
    external = set(re.findall(r"https?://[^\"'\s)]+", html))
    assert external <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, external  # namespaces only
    assert not re.search(r"\b(src|href)=", html)


# Markup in every kind of user text: Plotly's and HTML's tags, reportlab Paragraph's own (<font>, <link>) and an
# entity typed as text. Each must print as typed, in the PDF and in the HTML.
MARKUP = {
    "name": '<a href="https://evil.example/phish">session</a>',
    "patient label": '<font size="40" color="red">MRN-1</font>',
    "bed": "<b>bed</b> &amp; 2",
    "note": '<span style="font-size:120px;fill:red">SpO2 100</span>',
    "who": '<link href="https://evil.example">nurse</link>',
    "reason": "<br/><i>override</i> & go",
}


def test_user_text_prints_as_typed_in_the_pdf_and_the_html(tmp_path: Path) -> None:
    store = Store(tmp_path / "v.db")
    sid = store.sessions.create(MARKUP["name"], "replay", bed=MARKUP["bed"], session_type="esketamine",
                                patient_label=MARKUP["patient label"])
    store.samples.write(sid, [Reading(T0 + timedelta(seconds=s), "hr", 72) for s in range(0, 600, 5)])
    store.samples.enter_event(sid, Event(T0 + timedelta(minutes=1), "note", MARKUP["note"], source="entered"),
                              MARKUP["who"], T0 + timedelta(minutes=1))
    store.sessions.end(sid, MARKUP["who"], T0 + timedelta(minutes=9), T0 + timedelta(minutes=9),
                       override=MARKUP["reason"])
    record = session_record(store, sid)

    pdf = pdf_bytes(record, UTC)
    text = pdf_text(pdf)
    for what, typed in MARKUP.items():
        assert flat(typed) in text, what
    assert not any("/Annots" in page for page in PdfReader(io.BytesIO(pdf)).pages)  # no link was made
    html = render_html(record, UTC)
    for what, typed in MARKUP.items():
        assert str(escape(typed)) in html, what
    assert not re.search(r"<(a|font|span|link|b|i|br)\b", html)
    store.close()


@pytest.mark.browser
@sqlite_only  # the browser shows what the store gave: once is enough
def test_html_record_renders_in_chromium(dash_duo, esketamine: tuple[Store, int]) -> None:
    store, sid = esketamine
    app = dash.Dash(__name__)
    app.layout = dash.html.Div("report host")
    register_report_routes(app.server, store, BERLIN)
    dash_duo.start_server(app)

    dash_duo.driver.get(f"{dash_duo.server_url}/report/{sid}.html")
    trend = dash_duo.wait_for_element("figure svg", timeout=10)
    assert trend.is_displayed() and trend.size["width"] > 400 and trend.size["height"] > 250
    label = dash_duo.driver.find_element("xpath", "//th[.='Patient label']/following-sibling::td")
    assert label.is_displayed() and label.text == "MRN-0042"
    note = dash_duo.driver.find_element("xpath", "//td[contains(., 'document.title')]")
    assert note.text == SCRIPT_NOTE
    assert dash_duo.driver.title.startswith("Vigil session record")  # the note's script never ran


def test_session_without_dose_or_end_says_so(tmp_path: Path) -> None:
    store = Store(tmp_path / "v.db")
    sid = store.sessions.create("no dose", "live", bed="bed-1", session_type="esketamine")
    readings = [Reading(T0 + timedelta(seconds=5 * i), v, 75 if v == "hr" else 98) for i in range(60)
                for v in ("hr", "spo2")]
    readings.append(Reading(T0 + timedelta(minutes=2), "sbp", 132))  # a systolic without diastolic
    store.samples.write(sid, readings)
    record = session_record(store, sid)
    assert record.rems is None and record.anchor is None

    for text in (pdf_text(pdf_bytes(record, BERLIN)), flat(re.sub(r"<[^>]+>", " ", render_html(record, BERLIN)))):
        assert "Ended session not ended" in text
        assert "Discharge Ended session not ended" in text
        assert "Patient label not recorded" in text
        assert "Time zero (first device) not recorded" in text
        assert "Alarm limits: not recorded." in text
        assert "No dose event recorded" in text
        assert "132 not measured not measured" in text  # the lone systolic: no DIA, no MAP invented
        assert "REMS patient monitoring form" not in text
    store.close()


def test_session_without_any_data_still_reports(tmp_path: Path) -> None:
    store = Store(tmp_path / "v.db")
    sid = store.sessions.create("empty", "live")
    record = session_record(store, sid)
    for text in (pdf_text(pdf_bytes(record, BERLIN)), flat(re.sub(r"<[^>]+>", " ", render_html(record, BERLIN)))):
        assert "No readings recorded." in text
        assert "Start of record not recorded" in text
        assert "Heart rate (ECG), bpm 0 not recorded not recorded not recorded" in text
    store.close()


def test_relative_time_session_reads_as_elapsed_time(tmp_path: Path) -> None:
    store = Store(tmp_path / "v.db")
    sid = store.sessions.create("file", "import", relative_time=True, session_type="iv-ketamine")
    store.samples.write(sid, [Reading(EPOCH + timedelta(seconds=s), "hr", 80) for s in range(0, 4000, 5)],
                        [Event(EPOCH + timedelta(minutes=10), "dose_start")])
    html = flat(re.sub(r"<[^>]+>", " ", render_html(session_record(store, sid), BERLIN)))
    assert "Time zero (infusion start) 00:10:00" in html
    assert "End of record 01:06:35" in html
    assert "1970" not in html
    store.close()


def test_report_routes(esketamine: tuple[Store, int]) -> None:
    store, sid = esketamine
    other = store.sessions.create("iv", "live", bed="bed-1", session_type="iv-ketamine", patient_label="P-7")
    store.samples.write(other, [Reading(T0, "hr", 70)], [Event(T0, "dose_start")])
    store.sessions.end(other, "dr.c", T0, T0 + timedelta(minutes=5), override="patient left against advice")
    server = Flask(__name__)
    register_report_routes(server, store, BERLIN)
    client = server.test_client()

    pdf = client.get(f"/report/{sid}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.headers["Content-Disposition"] == f"inline; filename=vigil-session-{sid}.pdf"
    assert "MRN-0042" in pdf_text(pdf.data)

    page = client.get(f"/report/{other}.html")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "dr.c patient left against advice" in flat(re.sub(r"<[^>]+>", " ", page.get_data(as_text=True)))

    for suffix in ("html", "pdf"):
        missing = client.get(f"/report/999.{suffix}")
        assert missing.status_code == 404 and missing.mimetype == "text/plain"
        assert missing.get_data(as_text=True) == "no session 999\n"


def test_trend_thins_continuous_data_but_keeps_peaks_and_gaps(esketamine: tuple[Store, int]) -> None:
    minute = 1 / 60
    points = [(i * minute, 98.0) for i in range(7200)]  # 2 h at 1 Hz
    points[4000] = (points[4000][0], 80.0)  # a one-second dip
    del points[5000:5060]  # a minute without readings
    segments = thin(points, bin_width=120 / 450, max_gap=0.5)
    assert len(segments) == 2
    assert sum(len(s) for s in segments) <= 2 * 452
    assert min(v for s in segments for _, v in s) == 80.0

    store, sid = esketamine
    svg = renderSVG.drawToString(trend_drawing(session_record(store, sid)))
    data_lines = [line for line in re.findall(r"<polyline[^>]*>", svg) if "dasharray" not in line]
    assert len(data_lines) == 2  # HR and SpO2: one line each (the SpO2 dip is in it: no gap to break it)
    assert "device_1" in svg and "device_2" in svg
    assert "SYS high 179" in svg and "SpO2 low 93" in svg  # the limits in force at the end label the margin


def make_escalating_session(store: Store, later_nibp: int = 0) -> int:
    """The SBP episode of issue 14 under high 140 / critical 160: 144 at 09:25, critical (165) from 09:40, peak 197,
    still 141 (above high) at its last reading, in range at 10:00; then `later_nibp` measurements in range, each
    one more row of the NIBP table that precedes the trend."""
    sid = store.sessions.create("escalating", "replay")
    limits = load_preset("iv-ketamine").to_dict()
    limits["vitals"]["sbp"] |= {"high": 140.0, "critical_high": 160.0}
    store.limits.save(sid, limits, T0, who="dr.a")
    sbp = {0: 120, 5: 123, 25: 144, 30: 150, 35: 158, 40: 165, 45: 197, 50: 187, 55: 141, 60: 130}
    sbp |= {60 + 5 * (i + 1): 125 for i in range(later_nibp)}
    readings = [Reading(T0 + timedelta(minutes=m), code, value) for m, s in sbp.items()
                for code, value in (("sbp", s), ("dbp", 80), ("map", 95))]
    store.samples.write(sid, readings)
    LiveAlarms(store, sid).process(readings, [])
    return sid


def test_pdf_alarm_table_gives_the_peak_and_what_the_episode_reached(tmp_path: Path) -> None:
    store = Store(tmp_path / "v.db")
    try:
        text = pdf_text(pdf_bytes(session_record(store, make_escalating_session(store)), UTC))
    finally:
        store.close()
    assert "Announced Priority Alarm Peak End Acknowledged by Acknowledged at" in text
    assert ("2026-11-20 09:25:00 high SYS peak 197 mmHg > critical high 160; high priority from 2026-11-20 09:40:00 "
            "197 mmHg 2026-11-20 10:00:00 not recorded not recorded") in text
    # The rise over the mean of the first two readings (121.5) by more than 39: from 09:40 (165) to 09:55 (141).
    assert ("2026-11-20 09:40:00 low SYS peak 197 mmHg: +75.5 over baseline 121.5 (limit +39) 197 mmHg "
            "2026-11-20 09:55:00") in text
    assert "SYS 141" not in text and "SYS 187" not in text  # no value but the peak stands for the episode


def test_pdf_trend_heading_stays_with_its_chart(tmp_path: Path) -> None:
    """However long the NIBP table before it, the "Trend" heading is on the page of the chart and its caption,
    never alone at the foot of the page before (before the fix: with 4 to 32 more rows, on this layout)."""
    for later in range(0, 40, 8):
        store = Store(tmp_path / f"{later}.db")
        try:
            data = pdf_bytes(session_record(store, make_escalating_session(store, later)), UTC)
        finally:
            store.close()
        pages = [page.extract_text().splitlines() for page in PdfReader(io.BytesIO(data)).pages]
        [heading] = [i for i, lines in enumerate(pages) if "Trend" in lines]
        [chart] = [i for i, lines in enumerate(pages) if any(line.startswith("Continuous vitals are drawn")
                                                             for line in lines)]
        assert heading == chart, f"with {later} more NIBP rows, the heading is on page {heading + 1}"


def limit_segments(document: str) -> list[tuple[float, float, float]]:
    """(x from, x to, y) of each horizontal limit line (dashed 3, 2) of the trend's SVG."""
    found = []
    for points, dashes in re.findall(r'<polyline points="([^"]+)"[^>]*stroke-dasharray: ([\d., ]+);', document):
        (x0, y0), (x1, y1) = (tuple(map(float, p.split())) for p in points.split(","))
        if dashes == "3, 2" and y0 == y1 and x1 - x0 > 12:  # not the legend's 10-pt sample
            found.append((x0, x1, y0))
    return found


def test_the_trend_draws_each_limits_version_where_it_was_in_force(esketamine: tuple[Store, int]) -> None:
    """SpO2 low was 94 until minute 50 after the first device, then 93: the record's trend (PDF and HTML draw
    the same figure) shows 94 up to the change and 93 from it, not either across the whole session."""
    store, sid = esketamine
    record = session_record(store, sid)
    html = render_html(record, BERLIN)
    # The x axis runs from the first reading (15 min before the first device) to the end, 125 min after it.
    left, right = LEFT, WIDTH - RIGHT
    change = left + (50 + 15) / (125 + 15) * (right - left)
    segments = limit_segments(html)
    old = [(x0, y) for x0, x1, y in segments if abs(x1 - change) < 0.01]
    new = [(x1, y) for x0, x1, y in segments if abs(x0 - change) < 0.01]
    assert old == [(left, old[0][1])] and new == [(right, new[0][1])], "one line ends where the other starts"
    assert new[0][1] != old[0][1]
    kept = [(x0, x1) for x0, x1, _ in segments if min(abs(x0 - change), abs(x1 - change)) >= 0.01]
    assert kept and set(kept) == {(left, right)}, "a limit both versions kept is one line over the whole record"
    text = pdf_text(pdf_bytes(record, BERLIN))
    assert "SpO2 low 93" in text and "SpO2 low 94" not in text and "limits, each version while in force" in text
