"""The session history: the course of treatment from a real store, and the /sessions/ page in a real browser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from selenium.webdriver.common.by import By
from support import NO_SIGN_IN, sqlite_only, wait_for

from adapters.model.reading import Event, Reading
from monitor.alarms.engine import Episode
from monitor.limits.model import load_preset
from monitor.session.course import CourseRow, course
from monitor.session.record import session_record
from monitor.store import Store
from monitor.timeutil import EPOCH
from monitor.web.app import DashboardConfig, create_app
from monitor.web.bed.figures import display_ms
from monitor.web.history import course_figure, review, when

DAY1 = datetime(2026, 11, 2, 9, tzinfo=UTC)
DAY2 = datetime(2026, 11, 5, 9, tzinfo=UTC)
DAY3 = datetime(2026, 11, 9, 9, tzinfo=UTC)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def nibp(t: datetime, sbp: float, dbp: float = 80) -> list[Reading]:
    return [Reading(t, "sbp", sbp), Reading(t, "dbp", dbp)]


def esketamine_session(store: Store, dose: datetime, pre: list[float], post: list[tuple[float, float]], *,
                       label: str = "MRN-7", bed: str = "bed-1") -> int:
    """Pre-dose NIBP 10 and 5 min before `device_1`, then (minutes after the dose, SBP) measurements."""
    sid = store.sessions.create(f"{label} {dose:%d %b}", "replay", bed=bed, session_type="esketamine",
                                patient_label=label)
    readings = [r for i, sbp in enumerate(pre) for r in nibp(dose - minutes(10 - 5 * i), sbp)]
    readings += [r for at, sbp in post for r in nibp(dose + minutes(at), sbp)]
    store.samples.write(sid, readings, [Event(dose, "device_1"), Event(dose + minutes(5), "device_2")])
    return sid


def test_course_rows_are_in_date_order_with_baseline_peak_and_rise(store: Store) -> None:
    later = esketamine_session(store, DAY2, [130, 134], [(20, 150), (40, 170), (100, 140)])
    earlier = esketamine_session(store, DAY1, [120, 124], [(20, 140), (40, 158), (100, 130)])
    esketamine_session(store, DAY3, [110, 110], [(40, 200)], label="MRN-9")  # another patient
    store.alarms.save(later, [Episode("sbp", "high", "limit", "medium", DAY2 + minutes(40), DAY2 + minutes(40),
                                      None, 170, 160, 170)])

    rows = course(store, "MRN-7")

    assert [r.session_id for r in rows] == [earlier, later]
    first, second = rows
    assert (first.date, first.session_type, first.alarms) == (DAY1 - minutes(10), "esketamine", 0)
    assert first.duration == minutes(110)  # first reading (10 min pre-dose) to the last (100 min after)
    assert (first.baseline_sbp, first.peak_sbp, first.peak_rise) == (122, 158, 36)
    assert (second.baseline_sbp, second.peak_sbp, second.peak_rise, second.alarms) == (132, 170, 38, 1)


def test_peak_stops_at_the_session_end(store: Store) -> None:
    sid = esketamine_session(store, DAY1, [120, 120], [(40, 150)])
    store.sessions.end(sid, "nurse", DAY1 + minutes(125), DAY1 + minutes(125))
    store.samples.write(sid, nibp(DAY1 + minutes(130), 210))  # after "end session": not part of the session

    (row,) = course(store, "MRN-7")

    assert (row.peak_sbp, row.peak_rise) == (150, 30)
    assert row.duration == minutes(135)  # first reading to the end


def test_session_without_dose_has_no_baseline_peak_or_rise(store: Store) -> None:
    sid = store.sessions.create("no dose", "replay", session_type="esketamine", patient_label="MRN-7")
    store.samples.write(sid, nibp(DAY1, 120) + nibp(DAY1 + minutes(30), 150))

    (row,) = course(store, "MRN-7")

    assert (row.baseline_sbp, row.peak_sbp, row.peak_rise) == (None, None, None)
    assert row.duration == minutes(30)


def test_session_without_nibp_has_no_baseline_peak_or_rise(store: Store) -> None:
    sid = store.sessions.create("HR only", "replay", session_type="esketamine", patient_label="MRN-7")
    store.samples.write(sid, [Reading(DAY1 + minutes(m), "hr", 70) for m in range(0, 60, 5)], [Event(DAY1, "device_1")])

    (row,) = course(store, "MRN-7")

    assert (row.baseline_sbp, row.peak_sbp, row.peak_rise) == (None, None, None)
    assert row.date == DAY1


def test_session_without_readings_has_no_date_or_duration(store: Store) -> None:
    store.sessions.create("empty", "replay", session_type="esketamine", patient_label="MRN-7")

    (row,) = course(store, "MRN-7")

    assert (row.date, row.duration, row.peak_rise) == (None, None, None)


def test_relative_time_sessions_show_elapsed_time_not_a_1970_date() -> None:
    assert when(EPOCH + timedelta(hours=1, minutes=5, seconds=7), True, UTC) == "+01:05:07"
    assert when(DAY1, False, UTC) == "2026-11-02 09:00"
    assert when(None, False, UTC) == "not recorded"


def test_course_chart_leaves_a_labelled_gap_where_no_rise_was_recorded() -> None:
    rows = [CourseRow(i, DAY1, "esketamine", None, 0, None, None, rise) for i, rise in ((1, 30.0), (2, None), (3, 0.0))]

    fig = course_figure(rows, ["d1", "d2", "d3"])

    assert list(fig.data[0].y) == [30.0, None, 0.0]  # a gap, never 0; a real 0 stays a point
    assert [(a.x, a.text) for a in fig.layout.annotations] == [("d2<br>#2", "not recorded")]


@pytest.mark.browser
def test_the_review_trend_draws_each_limits_version_where_it_was_in_force(store: Store) -> None:
    sid = esketamine_session(store, DAY1, [120, 124], [(20, 140), (40, 158)])
    preset = load_preset("esketamine").to_dict()  # SYS high 179, rise 39
    store.limits.save(sid, preset, DAY1 - minutes(60), "dr.a")
    lowered = {**preset, "vitals": {**preset["vitals"], "sbp": {**preset["vitals"]["sbp"], "high": 150.0}}}
    store.limits.save(sid, lowered, DAY1 + minutes(30), "dr.a")

    graph = review(session_record(store, sid), UTC).children[-1]
    shapes = graph.figure.to_dict()["layout"]["shapes"]

    def drawn(name: str) -> list[tuple[float, int, int]]:
        return [(s["y0"], s["x0"], s["x1"]) for s in shapes if s["name"] == name]

    start, change, end = (display_ms(t, UTC) for t in (DAY1 - minutes(10), DAY1 + minutes(30), DAY1 + minutes(40)))
    assert drawn("sbp-high") == [(179, start, change), (150, change, end)]
    # The rise limit (baseline 122 + 39) from the dose, when the baseline became known.
    assert drawn("sbp-rise") == [(161, display_ms(DAY1, UTC), change), (161, change, end)]


@sqlite_only  # the browser shows what the store gave: the store tests cover both engines
def test_history_page_lists_sessions_and_reviews_one_with_its_course(dash_duo, store: Store) -> None:
    pre1, post1 = [120, 124], [(20, 140), (40, 158)]
    pre2, post2 = [130, 134], [(20, 150), (40, 170)]
    first = esketamine_session(store, DAY1, pre1, post1)
    second = esketamine_session(store, DAY2, pre2, post2, bed="bed-2")
    other = esketamine_session(store, DAY3, [110, 110], [(40, 125)], label="MRN-9")
    rises = [max(s for _, s in post) - sum(pre) / len(pre) for pre, post in ((pre1, post1), (pre2, post2))]

    bed_app = create_app(DashboardConfig(store, lambda: other, UTC, auth=NO_SIGN_IN))  # the history page comes with it
    dash_duo.start_server(bed_app)
    dash_duo.driver.get(dash_duo.server_url + "/sessions/")

    def grid_rows(grid: str) -> list:
        """The grid's rows in display order (AG Grid positions rows itself, so DOM order is not display order)."""
        rows = dash_duo.driver.find_elements(By.CSS_SELECTOR, f"#{grid} .ag-center-cols-container .ag-row")
        return sorted(rows, key=lambda r: int(r.get_attribute("row-index")))

    rows = wait_for(lambda: len(grid_rows("sessions-grid")) == 3 and grid_rows("sessions-grid"), 10, "3 sessions")
    cell = "[col-id=patient]"
    assert sorted(r.find_element(By.CSS_SELECTOR, cell).text for r in rows) == ["MRN-7", "MRN-7", "MRN-9"]
    row_ids = [r.get_attribute("row-id") for r in rows]
    assert row_ids == [str(other), str(second), str(first)]  # newest first
    assert dash_duo.driver.execute_script("return typeof window.VigilFormat") == "undefined"  # no bed-view JS

    rows[1].find_element(By.CSS_SELECTOR, "[col-id=date]").click()
    dash_duo.wait_for_element("#review-trend .js-plotly-plot", timeout=10)
    assert "MRN-7 05 Nov" in dash_duo.find_element("#review").text
    html_link, pdf_link = dash_duo.find_element("#report-html"), dash_duo.find_element("#report-pdf")
    assert html_link.get_attribute("href") == f"{dash_duo.server_url}/report/{second}.html"
    assert pdf_link.get_attribute("href") == f"{dash_duo.server_url}/report/{second}.pdf"
    assert html_link.get_attribute("target") == pdf_link.get_attribute("target") == "_blank"
    n_points = dash_duo.driver.execute_script(
        "return document.querySelector('#review-trend .js-plotly-plot').data[0].x.length")
    assert n_points == len(pre2) + len(post2)  # the whole session's systolic values

    course_rows = wait_for(lambda: len(grid_rows("course-grid")) == 2 and grid_rows("course-grid"), 10, "course")
    assert [r.get_attribute("row-id") for r in course_rows] == [str(first), str(second)]
    assert [r.find_element(By.CSS_SELECTOR, "[col-id=rise]").text for r in course_rows] == [
        f"{rise:+.0f}" for rise in rises]
    dash_duo.wait_for_element("#course-chart .js-plotly-plot", timeout=10)
    chart_y = dash_duo.driver.execute_script("return document.querySelector('#course-chart .js-plotly-plot').data[0].y")
    assert chart_y == rises
    assert dash_duo.get_logs() == []


def test_audit_page_filters_by_session_by_no_session_and_by_user(store: Store) -> None:
    from monitor.auth.accounts import Accounts
    from monitor.web.audit import NO_SESSION, filtered

    first = store.sessions.create("first", "live", who="dr-ben")
    second = store.sessions.create("second", "live", who="nurse-ana")
    Accounts(store).add("nurse-ana", "nurse", "a passphrase", by="root-admin")
    rows = filtered(store, None, None, UTC)
    assert [(r["sid"], r["who"], r["action"]) for r in rows] == [  # newest first
        ("", "root-admin", "user_add"), (f"{second} second", "nurse-ana", "session_start"),
        (f"{first} first", "dr-ben", "session_start")]
    assert [r["action"] for r in filtered(store, str(first), None, UTC)] == ["session_start"]
    assert [r["who"] for r in filtered(store, NO_SESSION, None, UTC)] == ["root-admin"]
    assert [r["sid"] for r in filtered(store, None, "nurse-ana", UTC)] == [f"{second} second"]
    assert filtered(store, "1; DROP TABLE audit", None, UTC) == []  # not a value the page offers
