/* Vigil bed view, browser side: the formatting the other scripts share, as `window.VigilFormat`.
 *
 * Dash loads the assets in name order, so no script may rely on another having run first: the others
 * look `window.VigilFormat` up when they call it (from a callback, after every asset has loaded), never
 * when they load. Times are display milliseconds (epoch ms already shifted to the display zone by the
 * server), so they are formatted as UTC.
 */
(function () {
  "use strict";

  function pad(n) { return String(n).padStart(2, "0"); }

  /* A duration as hh:mm:ss. */
  function hms(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    return pad(Math.floor(s / 3600)) + ":" + pad(Math.floor((s % 3600) / 60)) + ":" + pad(s % 60);
  }

  /* A time of day as hh:mm:ss. */
  function clockText(ms) { return new Date(ms).toISOString().substring(11, 19); }

  /* The session's "now" in display ms: the clock the acquisition side published, run forward. */
  function sessionNow(latest) {
    const k = latest && latest.k;
    if (k && k.pos !== null && k.wall !== null) return k.pos + Math.max(0, Date.now() - k.wall) * (k.speed || 0);
    let newest = null;
    for (const key in (latest && latest.v) || {}) newest = Math.max(newest || 0, latest.v[key][0]);
    return newest;
  }

  window.VigilFormat = { pad, hms, clockText, sessionNow };
})();
