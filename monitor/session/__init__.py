"""The treatment session: its type and timeline, baseline and BP gate, discharge guard, record and actions.

Pure — session facts (readings, events, the session clock's "now") in, answers out, no store:
`types` (session types and their checkpoints), `timeline` (where a session stands), `baseline` (the
pre-dose baseline, also the alarm engine's, and the BP gate), `discharge` (the readiness summary).

Using the store — they read the facts and hand them to the pure part: `service` (what a user does:
set-up, dose events, notes, end; checked and audited), `record` (the session record for the report),
`course` (one line per session of a patient), `export` and `importing` (a session to and from the
recorded-session CSV).

The dashboard, the alarms and the report ask the same functions, so what a nurse sees, what alarms
and what the chart says agree.
"""
