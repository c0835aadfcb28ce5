/* Vigil central view, browser side: a tile per bed, written straight into the page from one stream.
 *
 * Dash loads this script on every page of the server, so it does nothing until the central view's one clientside
 * callback calls `start` with the page's config (monitor/web/site/page.py). Then: one EventSource for the whole
 * site (monitor/web/site/stream.py), whose messages are applied at once to the tiles they concern, with no Dash
 * callback per message, and writes only what changed; a one-second timer moves ages, the dose clock, the checkpoint
 * countdowns and the audio pause on. The stream names no event id: each update carries its bed's cursor, and on an
 * error this script reconnects itself with a resume token per bed, so nothing is missed or doubled.
 * Alarms of every bed go into the page's one vigil_alarms.js state, their tiles named per bed ("chair-3/hr"), which
 * sounds them with the bed view's tones, audio pause and reminders; the banner shows the site's highest.
 * The session line is the bed view's own (vigil_session.js `countdowns`), so both screens say the same.
 * On a central server whose beds chair computers acquire, an update may say why a bed's chair computer is offline
 * (`h`), and a bed may have no session yet (a snapshot with `s` null): both show on the tile as what they are.
 */
(function () {
  "use strict";
  const SVG = "http://www.w3.org/2000/svg";
  const RANK = { low: 0, medium: 1, high: 2 };
  const MARK = { high: "!!!", medium: "!!", low: "!" };
  const site = { config: null, beds: new Map(), es: null };

  const F = () => window.VigilFormat;  // looked up at call time: Dash loads the assets in any order

  function fmt(v) { return Number.isInteger(v) ? String(v) : v.toFixed(0); }

  /* Write a text or class only when it changed: most seconds nothing on a tile does. */
  function put(el, text) { if (el.vigilText !== text) { el.vigilText = text; el.textContent = text; } }
  function cls(el, name) { if (el.className !== name) el.className = name; }

  function ageText(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + " s";
    const m = Math.floor(s / 60);
    return m < 60 ? m + " min" : Math.floor(m / 60) + " h " + (m % 60) + " min";
  }

  function newBed(b) {
    const root = document.getElementById(b.tile);
    const q = (selector) => root.querySelector(selector);
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 300 100");
    svg.setAttribute("preserveAspectRatio", "none");
    const line = (name) => {
      const p = document.createElementNS(SVG, "polyline");
      p.setAttribute("class", "tr-" + name);
      svg.appendChild(p);
      return p;
    };
    const lines = { hr: line("hr"), sbp: line("sbp") };
    q(".st-trend").appendChild(svg);
    const vital = (key) => ({ root: q(".sv-" + key), value: q(".sv-" + key + " .sv-value"), age: q(".sv-" + key + " .sv-age") });
    return {
      id: b.id, label: b.label, root, lines, token: null, session: null, epoch: 0, cursor: null,
      el: {
        patient: q(".st-patient"), type: q(".st-type"), link: q(".st-link"), dose: q(".st-dose"), next: q(".st-next"),
        obs: q(".st-obs"), why: q(".st-offline-why"), bp: vital("bp"), hr: vital("hr"), spo2: vital("spo2"),
      },
      v: {}, trend: { sbp: [], hr: [] }, alarmIds: new Set(), link: null, clock: null, facts: null, staleS: null,
      known: false, offline: null,
    };
  }

  /* A snapshot replaces what the tile knew of its bed, its alarms included (a bed's next session starts clean). */
  function applyFull(bed, u) {
    window.VigilAlarms.drop(Array.from(bed.alarmIds));
    bed.alarmIds.clear();
    if (u.s === null) {  // no session yet: nothing but why
      Object.assign(bed, { session: null, epoch: 0, v: {}, trend: { sbp: [], hr: [] }, link: null, clock: null, facts: null,
        staleS: null, known: true, offline: u.h || null });
      return;
    }
    Object.assign(bed, { session: u.s, epoch: u.ep, v: u.v, trend: u.t, link: u.l, clock: u.k, facts: u.T, staleS: u.st,
      known: true, offline: u.h || null });
  }

  function addTrend(bed, t, vital, value) {
    const line = bed.trend[vital];
    if (!line) return false;
    const last = line[line.length - 1];
    if (vital === "hr" && last && Math.floor(last[0] / site.config.stepMs) === Math.floor(t / site.config.stepMs)) {
      line[line.length - 1] = [t, value];
      return false;  // the same point moved: the next one redraws it
    }
    line.push([t, value]);
    while (line.length && line[0][0] < t - site.config.trendMs) line.shift();
    return true;
  }

  function apply(u) {
    const bed = site.beds.get(u.b);
    if (!bed) return null;
    let redraw = false;
    if (u.full) { applyFull(bed, u); redraw = true; }
    for (const [t, vital, value] of (u.full ? [] : u.r || [])) {
      const prev = bed.v[vital];
      if (!prev || t >= prev[0]) bed.v[vital] = [t, value];
      redraw = addTrend(bed, t, vital, value) || redraw;
    }
    if (u.a && u.a.length) {
      for (const a of u.a) bed.alarmIds.add(a.id);
      window.VigilAlarms.update(u.a);
    }
    if (u.l) bed.link = u.l;
    if (u.k) bed.clock = u.k;
    if (u.T) bed.facts = u.T;
    if ("h" in u) bed.offline = u.h || null;
    bed.cursor = u.c;
    bed.token = bed.session === null ? null : [bed.id, bed.session, bed.epoch, u.c.join("-")].join(".");
    if (redraw) drawTrend(bed);
    return bed;
  }

  function drawTrend(bed) {
    const end = Math.max(...["sbp", "hr"].map((k) => (bed.trend[k].length ? bed.trend[k][bed.trend[k].length - 1][0] : 0)));
    const start = end - site.config.trendMs;
    for (const key of ["sbp", "hr"]) {
      const [lo, hi] = site.config.ranges[key];
      const points = bed.trend[key].filter(([t]) => t >= start).map(([t, v]) => {
        const x = ((t - start) / site.config.trendMs) * 300;
        const y = 100 - ((Math.min(hi, Math.max(lo, v)) - lo) / (hi - lo)) * 100;
        return x.toFixed(1) + "," + y.toFixed(1);
      });
      bed.lines[key].setAttribute("points", points.join(" "));
    }
  }

  const now = (bed) => F().sessionNow({ k: bed.clock, v: bed.v });

  function renderVital(bed, key, codes, t) {
    const el = bed.el[key], r = bed.v[codes[0]];
    const staleMs = (key === "bp" ? bed.staleS.nibp : bed.staleS.continuous) * 1000;
    let c = "sv sv-" + key + window.VigilAlarms.tileClass(bed.id + "/" + key);
    if (!r) c += " nodata";
    else if (t !== null && t - r[0] > staleMs) c += " stale";
    cls(el.root, c);
    put(el.value, !r ? (key === "bp" ? "--/--" : "--") : codes.map((code) => (bed.v[code] ? fmt(bed.v[code][1]) : "--")).join("/"));
    put(el.age, r && t !== null ? ageText(t - r[0]) : "");
  }

  /* A bed with no session yet: its vitals empty, and why (its chair computer never acquired it, or is offline). */
  function renderNoSession(bed) {
    for (const key of ["bp", "hr", "spo2"]) {
      cls(bed.el[key].root, "sv sv-" + key + " nodata");
      put(bed.el[key].value, key === "bp" ? "--/--" : "--");
      put(bed.el[key].age, "");
    }
    for (const key of ["patient", "type", "dose", "next", "obs"]) put(bed.el[key], "");
    put(bed.el.link, bed.offline ? "OFFLINE" : "No session");
    cls(bed.el.link, "st-link " + (bed.offline ? "link-bad" : "link-ended"));
    put(bed.el.why, bed.offline || "no session yet");
    cls(bed.root, "site-tile" + (bed.offline ? " offline" : ""));
  }

  /* Everything a tile shows: on each update of its bed, and every second (ages and countdowns move on). */
  function render(bed) {
    if (bed.known && bed.session === null) { renderNoSession(bed); return; }
    if (bed.staleS === null) return;
    // A chair computer not heard from says more than its link's last word: that is old news.
    const t = now(bed), s = bed.facts, lost = Boolean(bed.offline || (bed.link && bed.link[0]));
    const ended = Boolean(bed.clock && bed.clock.ended);
    renderVital(bed, "bp", ["sbp", "dbp"], t);
    renderVital(bed, "hr", ["hr"], t);
    renderVital(bed, "spo2", ["spo2"], t);
    put(bed.el.patient, s.patient ? "Patient " + s.patient : "No patient label");
    put(bed.el.type, s.typeLabel);
    const dosed = s.ended === null && s.anchor !== null && t !== null && t >= s.anchor;
    put(bed.el.dose, dosed ? "Dose +" + F().hms(t - s.anchor) : "");  // before it, the session line says "Pre-dose"
    const line = window.VigilSession.countdowns(s, F().sessionNow({ k: bed.clock, v: bed.v }));
    put(bed.el.next, line.next);
    cls(bed.el.next, "st-next " + line.nextClass);
    put(bed.el.obs, line.observation);
    put(bed.el.link, lost ? "OFFLINE" : ended ? "Replay ended" : "Live");
    cls(bed.el.link, "st-link " + (lost ? "link-bad" : ended ? "link-ended" : "link-ok"));
    put(bed.el.why, bed.offline || (lost ? bed.link[1] || "no data from the monitor" : ""));
    cls(bed.root, "site-tile" + window.VigilAlarms.tileClass(bed.id) + (lost ? " offline" : ""));
  }

  function alarmItem(a) {
    const bed = site.beds.get(a.bed);
    const item = document.createElement("div");
    item.className = "alarm-item pri-" + a.pri + (a.acked ? " acked" : "");
    for (const [name, text] of [["alarm-mark", MARK[a.pri] + " " + a.pri.toUpperCase()], ["alarm-bed", bed ? bed.label : a.bed],
      ["alarm-text", a.text], ["alarm-when", "since " + F().clockText(a.onset) + (a.acked ? " · acknowledged by " + a.ackBy : "")]]) {
      const span = document.createElement("span");
      span.className = name;
      span.textContent = text;
      item.appendChild(span);
    }
    return item;
  }

  /* The site's highest-priority alarm (an unacknowledged one first), naming its bed; a click opens that bed. */
  function renderBanner() {
    const list = window.VigilAlarms.shown();
    const unacked = list.filter((a) => !a.acked);
    const top = (unacked.length ? unacked : list)[0];
    const bar = document.getElementById(site.config.ids.banner);
    const key = top ? [top.id, top.rev, list.length].join(":") : "none";
    if (bar.vigilKey === key) return;
    bar.vigilKey = key;
    bar.className = "alarm-bar site-banner " + (top ? "alarm-" + top.pri + (unacked.length ? "" : " acked") : "alarm-none");
    const banner = document.createElement("div");
    banner.className = "alarm-banner";
    if (top) {
      banner.appendChild(alarmItem(top));
      const more = document.createElement("span");
      more.className = "alarm-more";
      more.textContent = list.length > 1 ? "+" + (list.length - 1) + " more" : "";
      banner.appendChild(more);
      banner.onclick = () => { const tile = site.beds.get(top.bed); if (tile) window.location.assign(tile.root.href); };
    } else {
      banner.textContent = "No active alarms";
    }
    bar.replaceChildren(banner);
  }

  function renderControls() {
    const ids = site.config.ids, left = Math.ceil((window.VigilAlarms.pausedUntil() - Date.now()) / 1000);
    put(document.getElementById(ids.pause), left > 0 ? "AUDIO PAUSED " + Math.floor(left / 60) + ":" + F().pad(left % 60)
      : "Audio pause " + Math.round(site.config.audioPauseS / 60) + " min");
    const on = window.VigilAudio.enabled(), sound = document.getElementById(ids.sound);
    put(sound, on ? "Sound on" : "Sound off — click to enable");
    cls(sound, "site-button " + (on ? "sound-on" : "sound-off"));
  }

  function status(text, name) {
    const el = document.getElementById(site.config.ids.status);
    put(el, text);
    cls(el, "link " + name);
  }

  function connect() {
    const tokens = Array.from(site.beds.values()).filter((b) => b.token).map((b) => "b=" + encodeURIComponent(b.token));
    const es = new EventSource(site.config.urls.stream + (tokens.length ? "?" + tokens.join("&") : ""));
    site.es = es;
    es.onopen = () => status("Live", "link-ok");
    es.onerror = () => {
      status("Reconnecting…", "link-bad");
      // CLOSED: the server refused the stream (a sign-in ended): reload, which leads to the sign-in page if so.
      if (es.readyState === EventSource.CLOSED) { setTimeout(() => window.location.reload(), 2000); return; }
      es.close();  // the browser's own retry would start over from the page's first cursors: resume from ours
      setTimeout(connect, 1000);
    };
    es.onmessage = (event) => {
      const data = JSON.parse(event.data);
      if (data.signedOut) {
        es.close();
        window.location.assign(site.config.urls.signIn + "?next=" + encodeURIComponent(window.location.pathname));
        return;
      }
      if (data.n) renderNotices(data.n);
      const touched = (data.u || []).map(apply).filter(Boolean);
      const alarms = (data.u || []).some((u) => u.a && u.a.length) || (data.u || []).some((u) => u.full);
      // An alarm change may colour any tile (its alarm also leaves or joins the others' ranking): redraw them all.
      for (const bed of alarms ? site.beds.values() : touched) render(bed);
      if (alarms) renderBanner();
    };
  }

  /* The site's notices for the admin (an HL7 sender no bed claims), one line each; none: the strip is gone. */
  function renderNotices(lines) {
    const box = document.getElementById(site.config.ids.notices);
    box.hidden = lines.length === 0;
    box.replaceChildren(...lines.map((text) => {
      const line = document.createElement("div");
      line.textContent = text;  // the sender's own identifiers: text, never markup
      return line;
    }));
  }

  function everySecond() {
    for (const bed of site.beds.values()) render(bed);
    renderBanner();
    renderControls();
  }

  function start(config) {
    if (site.config) return window.dash_clientside.no_update;
    site.config = config;
    for (const b of config.beds) site.beds.set(b.id, newBed(b));
    window.VigilAlarms.seed([], { audioPauseS: config.audioPauseS, reminderS: config.reminderS, ids: { alarmTick: config.ids.alarmTick } });
    document.getElementById(config.ids.pause).addEventListener("click", () => {
      window.VigilAlarms.togglePause(Date.now());
      renderControls();
    });
    document.getElementById(config.ids.sound).addEventListener("click", () => {
      if (!window.VigilAudio.enabled()) { window.VigilAudio.enable().then(renderControls); return; }
      window.VigilAudio.disable();
      setTimeout(renderControls, 200);  // the audio context suspends a moment later
    });
    connect();
    setInterval(everySecond, 1000);
    return Date.now();
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, { vigilSite: { start } });
})();
