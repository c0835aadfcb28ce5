"""The session record over HTTP (`urls.REPORT_HTML`, `urls.REPORT_PDF`) on the dashboard's Flask server.

Plain Flask routes, so the dashboard's login guard and security headers cover them like any page.
The PDF is built in memory and served inline, so the browser shows it and "save" names it sensibly.
"""

from __future__ import annotations

from datetime import tzinfo

from flask import Flask, Response

from monitor.report.html import render_html
from monitor.report.pdf import pdf_bytes
from monitor.session.record import SessionRecord, session_record
from monitor.store import Store
from monitor.web import urls


def register_report_routes(server: Flask, store: Store, tz: tzinfo) -> None:
    def record_or_none(session_id: int) -> SessionRecord | None:
        try:
            store.sessions.info(session_id)
        except KeyError:  # no such session (asked apart, so a KeyError from a bug is not a 404)
            return None
        return session_record(store, session_id)

    def not_found(session_id: int) -> Response:
        return Response(f"no session {session_id}\n", status=404, mimetype="text/plain")

    @server.get(urls.REPORT_HTML, endpoint="vigil_report_html")
    def report_html(session_id: int) -> Response:
        record = record_or_none(session_id)
        if record is None:
            return not_found(session_id)
        return Response(render_html(record, tz), mimetype="text/html")

    @server.get(urls.REPORT_PDF, endpoint="vigil_report_pdf")
    def report_pdf(session_id: int) -> Response:
        record = record_or_none(session_id)
        if record is None:
            return not_found(session_id)
        return Response(pdf_bytes(record, tz), mimetype="application/pdf",
                        headers={"Content-Disposition": f"inline; filename=vigil-session-{session_id}.pdf"})
