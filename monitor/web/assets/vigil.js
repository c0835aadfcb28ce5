/* Vigil bed view, browser side.
 *
 * One native EventSource per tab feeds two queues. Each message bumps `stream-tick`, and
 * `applyLatest` folds it into the latest value of each vital at once; a moment later `trend-tick`
 * lets `applyTrend` turn everything queued into one `extendData` (bounded by maxPoints), so the
 * chart redraw never delays the numbers. `render` turns those into numerics, ages and stale greying on every
 * change and once a second (ages grow even when nothing arrives), with the alarm colour of each tile
 * from vigil_alarms.js. Alarm changes (`a`), new limits (`L`) and the session's facts (`S`, drawn by
 * vigil_session.js) ride the same stream. Times are display milliseconds:
 * epoch ms already shifted to the display zone by the server, so they are formatted as UTC.
 *
 * The page's config (`stream-config`) gives the component ids (`config.ids`) and paths (`config.urls`) used
 * here; `render` and `replayBar` return their outputs by name (monitor/web/bed/clientside.py lists them).
 */
(function () {
  "use strict";
  const state = {
    es: null, session: null, applied: [0, 0], sliderValue: null,
    latestQueue: [], trendQueue: [], seq: 0, trendPending: false,
    limitShapes: null, sessionShapes: [], ids: null, limits: null, nibpTimes: [],
  };
  const TREND_DELAY_MS = 20;  // let the numerics paint before the (slower) chart redraw
  const noUpdate = () => window.dash_clientside.no_update;

  // vigil_format.js, looked up at call time: the order Dash loads the assets in does not matter.
  const hms = (ms) => window.VigilFormat.hms(ms);
  const clockText = (ms) => window.VigilFormat.clockText(ms);
  const sessionNow = (latest) => window.VigilFormat.sessionNow(latest);

  function ageText(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + " s ago";
    const m = Math.floor(s / 60);
    if (m < 60) return m + " min ago";
    return Math.floor(m / 60) + " h " + (m % 60) + " min ago";
  }

  function fmt(v) { return Number.isInteger(v) ? String(v) : v.toFixed(0); }

  function parseCursor(text) {
    const parts = String(text || "").split("-").map(Number);
    return parts.length === 3 && parts.every(Number.isFinite) ? parts : null;
  }

  /* A message whose cursor is not past what this tab already applied is a repeat: never plot twice. */
  function isRepeat(cursor) {
    return cursor !== null && cursor.every((c, i) => c <= state.applied[i]);
  }

  /* New limits or session shapes (the expected BP-peak window): redraw them in place; the traces
   * and zoom are untouched. */
  function applyShapes() {
    const graph = document.querySelector("#" + state.ids.trend + " .js-plotly-plot");
    if (graph && window.Plotly && state.limitShapes !== null) {
      window.Plotly.relayout(graph, { shapes: state.sessionShapes.concat(state.limitShapes) });
    }
  }

  function connect(config) {
    if (state.es && state.session === config.session) return noUpdate();  // one stream per tab
    if (state.es) state.es.close();
    state.session = config.session;
    state.ids = config.ids;
    const ids = config.ids;
    state.applied = parseCursor(config.cursor) || [0, 0, 0];
    const url = config.urls.stream + "?session=" + encodeURIComponent(config.session) +
      "&cursor=" + encodeURIComponent(config.cursor);
    const es = new EventSource(url);
    const status = (text, cls) => window.dash_clientside.set_props(ids.linkStatus, { children: text, className: "link " + cls });
    es.onopen = () => status("Live", "link-ok");
    es.onerror = () => {
      status("Reconnecting…", "link-bad");
      // CLOSED (not CONNECTING) means the server refused the stream, e.g. after a sign-out elsewhere: reload,
      // which leads to the sign-in page if that is why. A server that is down keeps the browser retrying.
      if (es.readyState === EventSource.CLOSED) setTimeout(() => window.location.reload(), 2000);
    };
    es.onmessage = (event) => {
      const cursor = parseCursor(event.lastEventId);
      const data = JSON.parse(event.data);
      if (data.signedOut) {
        es.close();
        window.location.assign(config.urls.signIn + "?next=" + encodeURIComponent(window.location.pathname));
        return;
      }
      const carriesData = (data.r && data.r.length) || (data.e && data.e.length) || (data.a && data.a.length);
      if (carriesData && isRepeat(cursor)) return;
      if (cursor) state.applied = cursor;
      if (data.S) {
        if (data.S.type !== config.sessionType) { window.location.reload(); return; }  // new buttons, new timeline
        state.sessionShapes = data.S.shapes;
        state.nibpTimes = data.S.nibp;
        window.dash_clientside.set_props(ids.sessionState, { data: data.S });
      }
      if (data.L) { state.limitShapes = data.L.shapes; state.limits = data.L.values; }
      if (data.S || data.L) applyShapes();
      if (data.a && data.a.length) {
        window.VigilAlarms.update(data.a);
        window.dash_clientside.set_props(ids.alarmTick, { data: Date.now() });
      }
      state.latestQueue.push(data);
      state.trendQueue.push(data);
      state.seq += 1;
      window.dash_clientside.set_props(ids.streamTick, { data: state.seq });
      if (!state.trendPending) {
        state.trendPending = true;
        setTimeout(() => {
          state.trendPending = false;
          window.dash_clientside.set_props(ids.trendTick, { data: state.seq });
        }, TREND_DELAY_MS);
      }
    };
    state.es = es;
    return "Connecting…";
  }

  /* Numerics first: fold new messages into the latest value of each vital, the dose time, the clock. */
  function applyLatest(_tick, latest, config) {
    const messages = state.latestQueue.splice(0, state.latestQueue.length);
    if (!messages.length) return noUpdate();
    const next = { v: Object.assign({}, latest.v), dose: latest.dose, k: latest.k };
    for (const msg of messages) {
      if (msg.reset) { window.location.reload(); return noUpdate(); }
      for (const [t, vital, value] of msg.r || []) {
        const prev = next.v[vital];
        if (!prev || t >= prev[0]) next.v[vital] = [t, value];
      }
      for (const [t, kind] of msg.e || []) {
        if (config.doseKinds.includes(kind) && (next.dose === null || t < next.dose)) next.dose = t;
      }
      if (msg.k) next.k = msg.k;
    }
    return next;
  }

  /* Then the trend: one extendData for everything queued, each trace bounded by its maxPoints. */
  function applyTrend(_tick, config) {
    const messages = state.trendQueue.splice(0, state.trendQueue.length);
    const xs = {}, ys = {}, texts = {};
    const push = (i, x, y, t) => {
      if (!(i in xs)) { xs[i] = []; ys[i] = []; texts[i] = []; }
      xs[i].push(x); ys[i].push(y); if (t !== undefined) texts[i].push(t);
    };
    for (const msg of messages) {
      for (const [t, vital, value] of msg.r || []) {
        const i = config.traceIndex[vital];
        if (i !== undefined) push(i, t, value);
      }
      for (const [t, , label] of msg.e || []) {
        const ev = config.eventTrace, [lo, hi] = config.eventSpan;
        push(ev, t, lo); push(ev, t, hi); push(ev, null, null);
        push(config.labelTrace, t, hi, label);  // already Plotly text (escaped by the server)
      }
    }
    const indices = Object.keys(xs).map(Number);
    if (!indices.length) return noUpdate();
    const pick = (key) => indices.map((i) => config.maxPoints[key][i]);
    const update = { x: indices.map((i) => xs[i]), y: indices.map((i) => ys[i]), text: indices.map((i) => texts[i]) };
    return [update, indices, { x: pick("x"), y: pick("y"), text: pick("text") }];
  }

  /* The limits a numeric alarms at first, as a bedside monitor shows them beside it: "↑179 ↓101" (the high and
   * low limits, or the critical ones where those are all that is set). */
  function limitsText(code) {
    if (state.limits === null) return "";
    const lim = (state.limits.vitals || {})[code] || {};
    const high = lim.high !== undefined ? lim.high : lim.critical_high;
    const low = lim.low !== undefined ? lim.low : lim.critical_low;
    const parts = [];
    if (high !== undefined) parts.push("↑" + fmt(high));
    if (low !== undefined) parts.push("↓" + fmt(low));
    return parts.length ? parts.join(" ") : "no limits";
  }

  function minutesText(ms) {
    return ms < 90000 ? Math.round(ms / 1000) + " s" : Math.round(ms / 60000) + " min";
  }

  /* When the cuff measured, and when it cycles next: the last measurement plus the interval between the last
   * two (the cuff's interval is set on the monitor, which does not send it); with one measurement only, when
   * the NIBP-overdue alarm falls due under the limits in force. */
  function nibpCycle() {
    const times = state.nibpTimes || [];
    if (!times.length) return "";
    const last = times[times.length - 1];
    const text = "measured " + clockText(last);
    if (times.length > 1) {
      const interval = last - times[times.length - 2];
      return text + " · next ≈ " + clockText(last + interval) + " (every " + minutesText(interval) + ")";
    }
    const overdue = state.limits && state.limits.technical && state.limits.technical.nibp_overdue_s;
    return overdue ? text + " · overdue after " + clockText(last + overdue * 1000) : text;
  }

  function render(latest, _n, _alarmTick, config) {
    const now = sessionNow(latest);
    const v = (latest && latest.v) || {};
    const staleFor = (code) => (config.nibp.includes(code) ? config.staleS.nibp : config.staleS.continuous) * 1000;
    const tileClass = (key, size, code) => {
      const r = v[code];
      let cls = "tile tile-" + size + " vital-" + key;
      cls += window.VigilAlarms ? window.VigilAlarms.tileClass(key) : "";
      if (!r) return cls + " nodata";
      if (now !== null && now - r[0] > staleFor(code)) cls += " stale";
      return cls;
    };
    const age = (code) => (v[code] && now !== null ? ageText(now - v[code][0]) : "no data");
    const value = (code) => (v[code] ? fmt(v[code][1]) : "--");
    const dose = latest && latest.dose;
    return {
      value: {
        bp: v.sbp ? value("sbp") + "/" + value("dbp") : "--/--",
        hr: value("hr"), spo2: value("spo2"), pr: value("pr"), rr: value("rr"),
      },
      age: { bp: age("sbp"), hr: age("hr"), spo2: age("spo2"), pr: age("pr"), rr: age("rr") },
      tile: {
        bp: tileClass("bp", "big", "sbp"), hr: tileClass("hr", "big", "hr"), spo2: tileClass("spo2", "big", "spo2"),
        pr: tileClass("pr", "small", "pr"), rr: tileClass("rr", "small", "rr"),
      },
      limits: {
        bp: state.limits === null ? "" : "SYS " + limitsText("sbp") + "\nDIA " + limitsText("dbp"),
        hr: limitsText("hr"), spo2: limitsText("spo2"), pr: limitsText("pr"), rr: limitsText("rr"),
      },
      map: v.map ? "MAP " + value("map") : "",
      cycle: nibpCycle(),
      elapsed: dose === null || dose === undefined || now === null || now < dose ? "Pre-dose" : "Dose +" + hms(now - dose),
      clock: now === null ? "--:--:--" : clockText(now),
    };
  }

  /* The slider follows the replay position, except while a user's move of it has not yet been
   * taken as a seek: overwriting it then would lose the seek. */
  function replayBar(latest, _n, sliderNow) {
    const k = latest && latest.k;
    if (!k || k.span[0] === null) return noUpdate();
    const [start, end] = k.span;
    const now = Math.min(Math.max(sessionNow(latest), start), end);
    const position = Math.round((now - start) / 1000);
    const userMovePending = state.sliderValue !== null && sliderNow !== state.sliderValue;
    if (!userMovePending) state.sliderValue = position;
    return {
      position: hms(now - start) + " / " + hms(end - start),
      max: Math.max(1, Math.round((end - start) / 1000)),
      value: userMovePending ? noUpdate() : position,
      play: k.speed > 0 ? "Pause" : "Play",
    };
  }

  /* Only a user's move of the slider is a seek; the position updates above are not. */
  function seekFilter(value) {
    if (value === state.sliderValue) return noUpdate();
    state.sliderValue = value;
    return value;
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    vigil: { connect, applyLatest, applyTrend, render, replayBar, seekFilter },
  });
})();
