/* Vigil alarm presentation, browser side: banner, tile colours, sound, audio pause, reminders.
 *
 * The store decides which alarms exist (the engine raises and ends them, acknowledgements mark
 * them); this tab only shows them. An alarm is displayed while active, and a high-priority one
 * stays (latched) after it ends until acknowledged. Displayed, unacknowledged alarms sound the
 * pattern of the highest priority among them; acknowledged ones still present get a reminder
 * every `reminderS`. Audio pause silences this tab for `audioPauseS`, with a countdown, unless a
 * new alarm of higher priority than any sounding at the pause breaks through. Times for pause and
 * reminders are wall-clock: they are about the nurse, not the replayed session.
 * The banner and the alarm bar's colour are written into the page by `paintBanner` (vigil.js calls it as each
 * alarm change arrives, with no Dash callback in between: alarms never wait); the sound controls, the pause
 * countdown and the history are the Dash callback `renderAlarms`, run on alarm changes, clicks and each second of
 * a pause only. It returns its outputs by name (monitor/web/bed/clientside.py lists them); the component ids
 * used here come from the page's config (`config.ids`).
 */
(function () {
  "use strict";
  const RANK = { low: 0, medium: 1, high: 2 };
  const MARK = { high: "!!!", medium: "!!", low: "!" };
  const SOUND_CHECK_MS = 250;
  const state = {
    alarms: new Map(), seeded: false, config: null,
    pausedUntil: 0, pauseRank: -1, pauseIds: new Set(),
    lastBurst: 0, lastRank: -1, reminded: new Map(), pauseTextShown: null,
  };
  const noUpdate = () => window.dash_clientside.no_update;

  // vigil_format.js, looked up at call time: the order Dash loads the assets in does not matter.
  const pad = (n) => window.VigilFormat.pad(n);
  const clockText = (ms) => window.VigilFormat.clockText(ms);

  /* Fold alarm snapshots in; a snapshot older than the one held (by revision) is ignored. */
  function update(list) {
    for (const a of list || []) {
      const held = state.alarms.get(a.id);
      if (!held || held.rev < a.rev) state.alarms.set(a.id, a);
    }
  }

  function seed(initial, config) {
    if (state.seeded) return;
    state.seeded = true;
    state.config = config;
    update(initial);
  }

  const latched = (a) => a.end !== null && a.pri === "high" && !a.acked;
  const displayed = (a) => a.end === null || latched(a);
  const sounding = (a) => displayed(a) && !a.acked;

  function shown() {
    return Array.from(state.alarms.values()).filter(displayed)
      .sort((x, y) => RANK[y.pri] - RANK[x.pri] || y.ann - x.ann);
  }

  function paused(now) { return now < state.pausedUntil; }

  /* The highest priority alarm of a tile: "alarm-high", plus "acked" when it only needs a reminder. */
  function tileClass(tile) {
    let best = null;
    for (const a of state.alarms.values()) {
      if (!displayed(a) || !a.tiles.includes(tile)) continue;
      const better = !best || RANK[a.pri] > RANK[best.pri] || (RANK[a.pri] === RANK[best.pri] && best.acked && !a.acked);
      if (better) best = a;
    }
    if (!best) return "";
    return " alarm-" + best.pri + (best.acked ? " acked" : "") + (latched(best) ? " latched" : "");
  }

  function togglePause(now) {
    if (paused(now)) { state.pausedUntil = 0; return; }
    const current = Array.from(state.alarms.values()).filter(sounding);
    state.pausedUntil = now + state.config.audioPauseS * 1000;
    state.pauseRank = current.reduce((r, a) => Math.max(r, RANK[a.pri]), -1);
    state.pauseIds = new Set(current.map((a) => a.id));
  }

  /* The audio pause button: its countdown while paused. */
  function pauseText(now) {
    const left = Math.ceil((state.pausedUntil - now) / 1000);
    return paused(now) ? "AUDIO PAUSED " + Math.floor(left / 60) + ":" + pad(left % 60)
      : "Audio pause " + Math.round(state.config.audioPauseS / 60) + " min";
  }

  /* Called every SOUND_CHECK_MS: decide whether a burst or a reminder is due. */
  function soundCheck() {
    if (!state.seeded || !window.VigilAudio) return;
    const now = Date.now();
    const active = Array.from(state.alarms.values()).filter(sounding);
    if (paused(now)) {
      const breakThrough = active.some((a) => !state.pauseIds.has(a.id) && RANK[a.pri] > state.pauseRank);
      if (!breakThrough) { showPause(now); return; }
      state.pausedUntil = 0;
    }
    showPause(now);
    const top = active.reduce((r, a) => Math.max(r, RANK[a.pri]), -1);
    if (top >= 0) {
      const priority = Object.keys(RANK).find((p) => RANK[p] === top);
      if (top > state.lastRank || now - state.lastBurst >= window.VigilAudio.period(priority)) {
        window.VigilAudio.play(priority, "alarm");
        state.lastBurst = now;
      }
    }
    state.lastRank = top;
    for (const a of state.alarms.values()) {
      if (!(a.acked && a.end === null)) { state.reminded.delete(a.id); continue; }
      if (!state.reminded.has(a.id)) { state.reminded.set(a.id, now); continue; }
      if (now - state.reminded.get(a.id) >= state.config.reminderS * 1000) {
        window.VigilAudio.play(a.pri, "reminder");
        state.reminded.set(a.id, now);
      }
    }
  }

  /* The pause countdown moved on (or the pause ended): show it. No callback runs for it when nothing is paused. */
  function showPause(now) {
    if (pauseText(now) === state.pauseTextShown) return;
    window.dash_clientside.set_props(state.config.ids.alarmTick, { data: now });
  }

  /* When a priority was reached, if later than the onset: an SBP high at 09:25 that became critical at 09:40. */
  const reachedText = (a) => (a.reached === null ? "" : a.pri + " priority from " + clockText(a.reached));

  /* When the episode began, when it reached its priority and, once ended (latched), when it ended. */
  function whenText(a) {
    const parts = [(a.end === null ? "since " : "began ") + clockText(a.onset), reachedText(a)];
    if (a.end !== null) parts.push("ended " + clockText(a.end) + " — acknowledge to clear");
    return parts.filter(Boolean).join(" · ");
  }

  /* The tile's own account of its displayed alarms (its tooltip and accessible description). */
  function tileTitle(tile) {
    return shown().filter((a) => a.tiles.includes(tile))
      .map((a) => a.pri.toUpperCase() + ": " + a.text + " — " + whenText(a)).join("\n");
  }

  /* The banner's rows: [id, class, mark, text, when] of each alarm displayed, the highest priority first. */
  function bannerRows() {
    return shown().map((a) => [
      String(a.id), "alarm-item pri-" + a.pri + (a.acked ? " acked" : "") + (latched(a) ? " latched" : ""),
      MARK[a.pri] + " " + a.pri.toUpperCase(), a.text, whenText(a) + (a.acked ? " · acknowledged by " + a.ackBy : ""),
    ]);
  }

  /* The alarm bar's colour: that of the highest priority unacknowledged alarm, else of the highest acknowledged. */
  function barClass() {
    const list = shown();
    const unacked = list.filter((a) => !a.acked);
    const top = (unacked.length ? unacked : list)[0];
    return "alarm-bar " + (top ? "alarm-" + top.pri + (unacked.length ? "" : " acked") : "alarm-none");
  }

  /* The banner (element `bannerId`) and the bar's colour (`barId`), rebuilt only when what they show changed. The
   * banner keeps one height however many alarms are active: the list scrolls inside it, the highest priority
   * first, and "+N more" says how many lie below. */
  function paintBanner(bannerId, barId) {
    const dom = window.VigilDom;
    dom.cls(barId, barClass());
    dom.list(bannerId, bannerRows(), (rows) => {
      if (!rows.length) return "No active alarms";
      const span = (className, text) => dom.node("span", className, text);
      const item = ([id, cls, mark, text, when]) => dom.node("div", cls,
        [span("alarm-mark", mark), span("alarm-text", text), span("alarm-when", when)], { "data-alarm": id });
      return [dom.node("div", "alarm-list", rows.map(item)),
        dom.node("span", "alarm-more", rows.length > 1 ? "+" + (rows.length - 1) + " more" : "")];
    });
  }

  function historyRows() {
    return Array.from(state.alarms.values()).sort((x, y) => y.ann - x.ann).map((a) => ({
      id: a.id, priority: a.pri, text: [a.text, reachedText(a)].filter(Boolean).join(" · "),
      announcedText: clockText(a.ann),
      peakText: a.peakText,
      endText: a.end === null ? "active" : clockText(a.end),
      ackText: a.acked ? a.ackBy + (a.ackAt === null ? "" : " at " + clockText(a.ackAt)) : "",
    }));
  }

  function renderAlarms(_tick, _pauseClicks, _soundClicks, initial, config) {
    seed(initial, config);
    const now = Date.now();
    const triggered = (window.dash_clientside.callback_context.triggered || []).map((t) => t.prop_id);
    if (triggered.includes(config.ids.audioPause + ".n_clicks")) togglePause(now);
    if (triggered.includes(config.ids.soundToggle + ".n_clicks")) {
      const tick = () => window.dash_clientside.set_props(config.ids.alarmTick, { data: Date.now() });
      if (window.VigilAudio.enabled()) window.VigilAudio.disable();
      else window.VigilAudio.enable().then(tick);
    }
    state.pauseTextShown = pauseText(now);
    const on = window.VigilAudio.enabled();
    return {
      pauseText: state.pauseTextShown,
      soundText: on ? "Sound on" : "Sound off — click to enable",
      soundClass: on ? "sound-on" : "sound-off", soundColor: on ? "gray" : "red",
      history: historyRows(),
    };
  }

  /* Forget alarms by id: the central view's, of a bed that has moved on to its next session. */
  function drop(ids) {
    for (const id of ids) { state.alarms.delete(id); state.reminded.delete(id); state.pauseIds.delete(id); }
  }

  setInterval(soundCheck, SOUND_CHECK_MS);
  window.VigilAlarms = {
    update, seed, tileClass, tileTitle, barClass, paintBanner,
    debug: () => ({ paused: paused(Date.now()), alarms: state.alarms.size }),
    // for the central view (assets/vigil_site.js), which has no Dash callback to pause the sound
    shown, drop, togglePause, pausedUntil: () => state.pausedUntil,
  };
  window.dash_clientside = Object.assign({}, window.dash_clientside, { vigilAlarms: { renderAlarms } });
})();
