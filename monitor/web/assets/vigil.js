/* Vigil bed view, browser side.
 *
 * One native EventSource per tab. Each message is folded at once into the latest value of each vital (`fold`)
 * and painted (`paint`): the numerics, their ages, limits and alarm colours, the clock, the time since the dose,
 * the session's countdowns (vigil_session.js) and the alarm banner (vigil_alarms.js) are written straight into
 * the page (vigil_dom.js), and again by one timer every second (ages and clocks move when nothing arrives). No
 * Dash callback runs per message or per second: each cost the main thread several milliseconds of Redux and
 * React whatever it changed, and with about 8 a second one bed at 1 reading/s kept the page 10–14 % busy. Dash
 * callbacks remain for user actions and what changes rarely (the session's facts, the alarms' history and sound
 * controls, the limits editor), and, in a replay, the replay bar once a second (`latest` set from here).
 * Alarms never wait: each message's alarm changes go to vigil_alarms.js and are painted as it arrives.
 * The trend is extended straight through Plotly, at most once per TREND_EVERY_MS: a redraw replots the whole SVG
 * figure, 50–60 ms whatever was added, nearly as much with no points (no one part of it above ~15 %): per message
 * it saturated the demo's 20×, and every 5 s it was still two thirds of one bed's work. 15 s is ~5 pixels of a
 * 60-min trend at 1366 px: a trend is read for the course over minutes (the BP peak, NIBP cycles minutes apart);
 * what happens now is on the numerics and alarms, which never wait for it.
 * Each extension keeps every trace to the one window whose time axis ends at the newest reading; `trendView` swaps
 * in the whole session for looking back. Alarm changes (`a`), the limits (`L`: each version's shapes over the
 * time it was in force, the open ones stretched on as readings arrive; the Limits tab follows them in
 * vigil_limits.js) and the session's facts (`S`) ride the same stream; the events on the trend and the time since
 * the dose follow `S`, so an event corrected or withdrawn moves on every tab. Times are display milliseconds:
 * epoch ms already shifted to the display zone by the server, so they are formatted as UTC.
 *
 * The page's config (`stream-config`) gives the component ids (`config.ids`) and paths (`config.urls`) used
 * here; the layout renders the numerics from the store already (no wait for the stream to show them).
 */
(function () {
  "use strict";
  const state = {
    es: null, session: null, applied: [0, 0], sliderValue: null,
    latest: null, facts: null, timer: null, barAt: -Infinity,  // what is painted, the next paint, the replay bar's last
    trendQueue: [], trendPending: false, trendTimer: null, trendDrawnAt: -Infinity,
    limitShapes: null, limitOpen: [], newest: null, sessionShapes: [], ids: null, config: null, limits: null, nibpTimes: [],
    lookBack: false, liveFigure: null,
  };
  // Signing out from this page posts a form: the stream is closed first, or its "signed out" message, which can
  // arrive while the form's answer loads, would send the page to the sign-in page a second time (with a `next`).
  document.addEventListener("submit", () => { if (state.es) state.es.close(); }, true);
  const PAINT_EVERY_MS = 1000;  // ages and clocks move on when no message comes
  const TREND_DELAY_MS = 20;  // let the numerics paint before the (slower) chart redraw
  const TREND_EVERY_MS = 15000;  // at most one trend redraw per 15 s (see above)
  const LOOK_BACK = "session";  // the trend view showing the whole session, and its figure's layout.meta
  const noUpdate = () => window.dash_clientside.no_update;

  // vigil_format.js, looked up at call time: the order Dash loads the assets in does not matter.
  const hms = (ms) => window.VigilFormat.hms(ms);
  const clockText = (ms) => window.VigilFormat.clockText(ms);
  const sessionNow = (latest) => window.VigilFormat.sessionNow(latest);

  /* How old a value is at the session's "now"; once a replay has ended, how long before its end it came. */
  function ageText(ms, ended) {
    const s = Math.max(0, Math.round(ms / 1000));
    const ago = ended ? " before end" : " ago";
    if (s < 60) return s + " s" + ago;
    const m = Math.floor(s / 60);
    if (m < 60) return m + " min" + ago;
    return Math.floor(m / 60) + " h " + (m % 60) + " min" + ago;
  }

  /* The badge: the stream's state, and that a replay has ended (its clock stands at the recording's end). */
  function linkStatus(k) {
    return k && k.ended ? ["Replay ended", "link-ended"] : ["Live", "link-ok"];
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

  const trendGraph = () => document.querySelector("#" + state.ids.trend + " .js-plotly-plot");

  /* The limits still in force (`L.open`, indices into the limit shapes) run on to the newest reading plotted;
   * older versions keep the stretch the server gave them. `offset`: where the limit shapes start in `shapes`. */
  function stretchOpen(shapes, offset) {
    for (const i of state.limitOpen) {
      const shape = shapes[offset + i];
      if (shape && state.newest !== null && shape.x1 < state.newest) shape.x1 = state.newest;
    }
  }

  /* New limits or session shapes (the expected BP-peak window): redraw them in place; the traces
   * and zoom are untouched. */
  function applyShapes() {
    const graph = trendGraph();
    if (graph && window.Plotly && state.limitShapes !== null) {
      stretchOpen(state.limitShapes, 0);
      window.Plotly.relayout(graph, { shapes: state.sessionShapes.concat(state.limitShapes) });
    }
  }

  /* The events in force, from the session's facts: their dotted lines and labels are redrawn whole, so an
   * event corrected or withdrawn moves or leaves the trend. */
  function applyEvents(events) {
    const graph = trendGraph();
    if (!graph || !window.Plotly) return;
    const config = state.config, [lo, hi] = config.eventSpan;
    const lineX = [], lineY = [];
    for (const [t] of events) { lineX.push(t, t, null); lineY.push(lo, hi, null); }
    window.Plotly.restyle(graph, {
      x: [lineX, events.map((e) => e[0])],
      y: [lineY, events.map(() => hi)],
      text: [[], events.map((e) => e[2])],  // already Plotly text (escaped by the server)
    }, [config.eventTrace, config.labelTrace]);
  }

  /* Readings up to `newest` are about to be plotted: the open limit shapes follow them. Changed in the layout
   * in place, they are drawn by the redraw the trace extension does anyway — no extra relayout per update. */
  function followNewest(newest) {
    if (state.newest !== null && newest <= state.newest) return;
    state.newest = newest;
    const graph = trendGraph();
    if (!graph || !graph.layout || state.limitShapes === null) return;
    stretchOpen(state.limitShapes, 0);
    stretchOpen(graph.layout.shapes || [], state.sessionShapes.length);
  }

  /* The next trend redraw: soon after the first message of a quiet spell or after a cuff result (`now`: NIBP comes
   * minutes apart and is what the trend is read for), else TREND_EVERY_MS after the last. */
  function scheduleTrend(now) {
    const wait = now ? TREND_DELAY_MS : Math.max(TREND_DELAY_MS, state.trendDrawnAt + TREND_EVERY_MS - performance.now());
    clearTimeout(state.trendTimer);
    state.trendPending = true;
    state.trendTimer = setTimeout(() => {
      state.trendPending = false;
      drawTrend();
    }, wait);
  }

  function connect(config, latest, facts, alarms) {
    if (state.es && state.session === config.session) return noUpdate();  // one stream per tab
    if (state.es) state.es.close();
    state.session = config.session;
    state.ids = config.ids;
    state.config = config;
    state.latest = latest;
    state.facts = facts;
    window.VigilAlarms.seed(alarms, config);
    const ids = config.ids;
    paint();
    state.applied = parseCursor(config.cursor) || [0, 0, 0];
    const url = config.urls.stream + "?session=" + encodeURIComponent(config.session) +
      "&cursor=" + encodeURIComponent(config.cursor);
    const es = new EventSource(url);
    const status = (text, cls) => window.dash_clientside.set_props(ids.linkStatus, { children: text, className: "link " + cls });
    let clock = null;  // the session clock last received
    es.onopen = () => status(...linkStatus(clock));
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
      if (data.reset) { es.close(); window.location.reload(); return; }  // a replay rewound: rebuild from the store
      if (cursor) state.applied = cursor;
      if (data.k) { clock = data.k; status(...linkStatus(clock)); }
      if (data.S) {
        if (data.S.type !== config.sessionType) { window.location.reload(); return; }  // new buttons, new timeline
        state.facts = data.S;
        state.sessionShapes = data.S.shapes;
        state.nibpTimes = data.S.nibp;
        window.dash_clientside.set_props(ids.sessionState, { data: data.S });
        applyEvents(data.S.events);
      }
      if (data.L) { state.limitShapes = data.L.shapes; state.limitOpen = data.L.open; state.limits = data.L.values; }
      if (data.L) window.dash_clientside.set_props(ids.limitsInForce, { data: data.L.editor });  // vigil_limits.js
      if (data.S || data.L) applyShapes();
      if (data.a && data.a.length) {
        window.VigilAlarms.update(data.a);
        window.dash_clientside.set_props(ids.alarmTick, { data: Date.now() });  // the history and sound controls
      }
      state.latest = fold(state.latest, data);
      paint();
      state.trendQueue.push(data);
      const cuff = (data.r || []).some((r) => r[1] === "sbp");
      if ((cuff || !state.trendPending) && !state.lookBack) scheduleTrend(cuff);  // looking back: kept for the return
    };
    state.es = es;
    return "Connecting…";
  }

  /* Numerics first: a message folded into the latest value of each vital, the dose time (time zero as the
   * session's facts say: they follow a corrected dose) and the clock (a new object: Dash sees a change). */
  function fold(latest, msg) {
    const next = { v: Object.assign({}, latest.v), dose: latest.dose, k: latest.k };
    for (const [t, vital, value] of msg.r || []) {
      const prev = next.v[vital];
      if (!prev || t >= prev[0]) next.v[vital] = [t, value];
    }
    if (msg.S) next.dose = msg.S.anchor;
    if (msg.k) next.k = msg.k;
    return next;
  }

  /* Everything that follows the stream and the clock, into the page; only what changed is written. The next
   * paint is a second later unless a message comes first: at 1 reading/s the page is painted once a second. */
  function paint() {
    clearTimeout(state.timer);
    state.timer = setTimeout(paint, PAINT_EVERY_MS);
    const ids = state.ids, dom = window.VigilDom;
    const out = render(state.latest, state.config);
    for (const [key, tile] of Object.entries(ids.tiles)) {
      dom.text(tile.number, out.value[key]);
      dom.text(tile.age, out.age[key]);
      dom.text(tile.limits, out.limits[key]);
      dom.cls(tile.tile, out.tile[key]);
      dom.title(tile.tile, out.title[key]);
    }
    dom.text(ids.map, out.map);
    dom.text(ids.cycle, out.cycle);
    dom.text(ids.elapsed, out.elapsed);
    dom.text(ids.clock, out.clock);
    window.VigilSession.paint(state.facts, state.latest, ids);
    window.VigilAlarms.paintBanner(ids.alarmBanner, ids.alarmBar);
    // A replay's bar follows its position once a second (a Dash callback, on a page that has one).
    if (performance.now() - state.barAt >= PAINT_EVERY_MS && document.getElementById(ids.replayPosition)) {
      state.barAt = performance.now();
      window.dash_clientside.set_props(ids.latest, { data: Object.assign({}, state.latest) });  // new: the clock moved
    }
  }

  /* Then the trend's readings: one extendTraces for everything queued, keeping every trace to the one window
   * [newest - windowMs, newest] that the page's load draws too (a reload shows what was there before it), and
   * showing that window: the axis range is set in the layout in place, drawn by the redraw the extension does
   * anyway — no extra relayout per update. While the whole session is shown (`trendView`) nothing is drawn and
   * the queue is kept for the return to the live window. Straight to Plotly, as applyShapes and applyEvents:
   * dcc.Graph replots only when its `figure` changes, which `trendView` sets from the graph as drawn. */
  function drawTrend() {
    const graph = trendGraph(), config = state.config;
    if (state.lookBack || !graph || !graph.data || !window.Plotly || graph.layout.meta === LOOK_BACK) {
      if (!state.lookBack && state.trendQueue.length && !state.trendPending) scheduleTrend();
      return;  // not the live figure (yet): draw the queue once it is
    }
    const messages = state.trendQueue.splice(0, state.trendQueue.length);
    let newest = null;
    for (const msg of messages) {
      for (const [t] of msg.r || []) if (newest === null || t > newest) newest = t;
    }
    if (newest === null) return;
    state.trendDrawnAt = performance.now();
    followNewest(newest);
    const end = state.newest, start = end - config.windowMs;
    const indices = Object.values(config.traceIndex);
    const xs = {}, ys = {};
    for (const i of indices) { xs[i] = []; ys[i] = []; }
    for (const msg of messages) {
      for (const [t, vital, value] of msg.r || []) {
        const i = config.traceIndex[vital];
        if (i !== undefined && t >= start) { xs[i].push(t); ys[i].push(value); }
      }
    }
    // Plotly keeps the last maxPoints of each trace: the points inside the window, old and new.
    const inWindow = (x) => { let n = 0; for (const t of x || []) if (t >= start) n += 1; return n; };
    const keep = indices.map((i) => inWindow(graph.data[i].x) + xs[i].length);
    for (const key of Object.keys(graph.layout)) {
      if (/^xaxis\d*$/.test(key)) Object.assign(graph.layout[key], { range: [start, end], autorange: false });
    }
    const update = { x: indices.map((i) => xs[i]), y: indices.map((i) => ys[i]), text: indices.map(() => []) };
    window.Plotly.extendTraces(graph, update, indices, { x: keep, y: keep, text: keep });
  }

  /* The trend's view. Looking back ("session"), the live figure is kept as it is and the readings that arrive
   * meanwhile are queued; the whole session (`sessionFigure`, from the server) replaces it once it comes, unless
   * the user has gone back to live by then. Back to live, the kept figure returns with the events and shapes the
   * stream has changed since (they are drawn on whichever figure is shown), and the next trend redraw adds the
   * queue: nothing is lost. */
  function trendView(view, sessionFigure) {
    const graph = trendGraph();
    const copy = (value) => JSON.parse(JSON.stringify(value));
    if (view === LOOK_BACK) {
      if (!state.lookBack && graph) {
        state.lookBack = true;
        state.liveFigure = copy({ data: graph.data, layout: graph.layout });
      }
      const fromServer = window.dash_clientside.callback_context.triggered
        .some((t) => t.prop_id.startsWith(state.ids.trendSession + "."));
      return fromServer && sessionFigure ? sessionFigure : noUpdate();
    }
    if (!state.lookBack) return noUpdate();
    state.lookBack = false;
    const live = state.liveFigure;
    state.liveFigure = null;
    if (graph) {
      const config = state.config;
      live.layout.shapes = copy(graph.layout.shapes || []);
      for (const i of [config.eventTrace, config.labelTrace]) live.data[i] = copy(graph.data[i]);
    }
    if (state.trendQueue.length && !state.trendPending) scheduleTrend();
    return live;
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

  /* The numerics, ages, limits and tile classes, the MAP and NIBP cycle, the time since the dose and the clock. */
  function render(latest, config) {
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
    const ended = Boolean(latest && latest.k && latest.k.ended);
    const age = (code) => (v[code] && now !== null ? ageText(now - v[code][0], ended) : "no data");
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
      title: Object.fromEntries(["bp", "hr", "spo2", "pr", "rr"].map(
        (key) => [key, window.VigilAlarms ? window.VigilAlarms.tileTitle(key) : ""])),
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
  function replayBar(latest, sliderNow) {
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
      play: k.speed > 0 ? "Pause" : (k.ended ? "Play again" : "Play"),
    };
  }

  /* Only a user's move of the slider is a seek; the position updates above are not. */
  function seekFilter(value) {
    if (value === state.sliderValue) return noUpdate();
    state.sliderValue = value;
    return value;
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    vigil: { connect, trendView, replayBar, seekFilter },
  });
})();
