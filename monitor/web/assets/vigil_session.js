/* Vigil bed view, browser side: the treatment session against the session clock.
 *
 * The server sends the session's facts (`session-state`: anchor, checkpoint windows and what
 * satisfied them, baseline and gate, end); this turns them into "BP at 40 min: due in 3 min", the
 * observation countdown and the checkpoint list, with the rules of monitor/session/timeline.py: a checkpoint
 * is done once satisfied, upcoming before it opens, overdue after its overdue time, else due. The overdue alarm
 * itself is raised by the server. Those countdowns follow the clock: `paint` writes them into the page (as
 * `window.VigilSession`, called by vigil.js with the numerics, every second and on every message). What changes
 * only with the facts (patient, baseline, which buttons may be pressed) is the Dash callback `render`, which
 * returns its outputs by name (monitor/web/bed/clientside.py lists them).
 */
(function () {
  "use strict";
  // vigil_format.js, looked up at call time: the order Dash loads the assets in does not matter.
  const hms = (ms) => window.VigilFormat.hms(ms);
  const clockText = (ms) => window.VigilFormat.clockText(ms);
  const sessionNow = (latest) => window.VigilFormat.sessionNow(latest);
  const MIN = 60000;

  function status(cp, now) {
    if (cp.done !== null) return cp.overdue === null || cp.done <= cp.overdue ? "done" : "late";
    if (now < cp.opens) return "upcoming";
    if (cp.overdue !== null && now > cp.overdue) return "overdue";
    return "due";
  }

  function phrase(cp, st, now) {
    if (st === "done") return "done " + clockText(cp.done);
    if (st === "late") return "done late " + clockText(cp.done);
    if (st === "overdue") return "OVERDUE — due " + Math.floor((now - cp.due) / MIN) + " min ago";
    if (now < cp.due) return "due in " + Math.ceil((cp.due - now) / MIN) + " min";
    return "due now";
  }

  function nextCheckpoint(list, now) {
    const pending = list.filter((cp) => !cp.optional && ["overdue", "due", "upcoming"].includes(status(cp, now)));
    pending.sort((a, b) => (status(b, now) === "overdue") - (status(a, now) === "overdue") || a.due - b.due);
    return pending[0] || null;
  }

  const div = (className, children) => ({ namespace: "dash_html_components", type: "Div", props: { className, children } });

  function baselineBox(s) {
    const b = s.baseline;
    const lines = [div("baseline-value", "Baseline " + b.text + " mmHg from " + b.count + " NIBP reading" +
      (b.count === 1 ? "" : "s") + (b.fixed ? " (15 min before the dose)" : " (last 15 min)"))];
    if (!b.fixed) {
      if (b.findings.length) {
        lines.push(div("gate-advisory", "BP gate (advisory): " + b.findings.join("; ") + " — dosing will ask for a reason"));
      } else if (b.count > 0) {
        lines.push(div("gate-ok", "BP gate: no finding"));
      }
    }
    return lines;
  }

  /* Where the session stands at its "now": the strip's next checkpoint and observation countdown, and the
   * checkpoint list (rows of [class, text], or one sentence when there are none). */
  function countdowns(s, now) {
    const ended = s.ended !== null;
    const list = s.checkpoints || [];
    let text, cls = "next-checkpoint";
    if (ended) {
      text = "Session ended " + clockText(s.ended) + (s.endedBy ? " by " + s.endedBy : "");
      cls += " ended";
    } else if (s.anchor === null) {
      text = "Pre-dose · baseline " + s.baseline.text + " (" + s.baseline.count + " NIBP)";
      cls += s.baseline.findings.length ? " advisory" : " pre";
    } else if (now === null) {
      text = "";
    } else {
      const next = nextCheckpoint(list, now);
      const st = next && status(next, now);
      text = next ? next.label + ": " + phrase(next, st, now) : "All checkpoints done";
      cls += next ? " cp-" + st : " cp-done";
    }
    let obs = "";
    if (!ended && s.anchor !== null && s.obsEnd !== null && now !== null) {
      const left = s.obsEnd - now;
      obs = left > 0
        ? (s.obsMinimum ? "Discharge not before " : "Planned observation ") + hms(left) + " left"
        : (s.obsMinimum ? "Minimum observation complete" : "Planned observation complete");
    }
    const rows = list.map((cp) => {
      const st = now === null ? "upcoming" : status(cp, now);
      return ["cp cp-" + st, cp.label + " (" + clockText(cp.due) + "): " + (now === null ? "" : phrase(cp, st, now))];
    });
    const none = s.anchor === null ? "Checkpoints start at the " + s.anchorLabel + "." : "None for this session type.";
    return { next: text, nextClass: cls, observation: obs, checkpoints: rows.length ? rows : none };
  }

  /* The countdowns into the page (`ids`: the page's config.ids), written only where they changed. */
  function paint(s, latest, ids) {
    if (!s) return;
    const dom = window.VigilDom;
    const out = countdowns(s, sessionNow(latest));
    dom.text(ids.next, out.next);
    dom.cls(ids.next, out.nextClass);
    dom.text(ids.observation, out.observation);
    dom.list(ids.checkpoints, out.checkpoints,
      (rows) => (Array.isArray(rows) ? rows.map(([cls, text]) => dom.node("div", cls, text)) : rows));
  }

  function render(s, doseIds) {
    const ended = s.ended !== null;
    // A dose event follows the one before it in the type's order: "Dose end" waits for "Dose start".
    const waiting = (kind) => {
      const i = s.doses.findIndex((d) => d.kind === kind);
      return i > 0 && !s.entered.includes(s.doses[i - 1].kind) ? s.doses[i - 1] : null;
    };
    const disabled = doseIds.map((id) => ended || s.entered.includes(id.kind) || waiting(id.kind) !== null);
    const blocked = ended ? null : s.doses.find((d) => !s.entered.includes(d.kind) && waiting(d.kind) !== null);
    return {
      patient: s.patient ? "Patient " + s.patient : "No patient label",
      baseline: baselineBox(s), doseDisabled: disabled, endDisabled: ended,
      doseHint: blocked ? blocked.label + " is available once " + waiting(blocked.kind).label + " is entered" : "",
    };
  }

  /* The correction form's choices: the dose events entered on screen and still in force. */
  function amendable(s) {
    return s.amendable;
  }

  window.VigilSession = { paint, countdowns };
  window.dash_clientside = Object.assign({}, window.dash_clientside, { vigilSession: { render, amendable } });
})();
