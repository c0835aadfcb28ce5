/* Vigil alarm sounds, generated with Web Audio (no sound files).
 *
 * Priority-encoded bursts after IEC 60601-1-8 practice (research clinical.md §3.3, §7c): high = ten
 * pulses in 3+2, 3+2 groups, medium = three pulses, low = one pulse; each pulse a tone with a
 * fundamental in 150-1000 Hz and four harmonics, shaped with short ramps so it never clicks.
 * Browsers allow sound only after a user gesture, so `enable()` must follow a click; until then
 * `play()` only records what it would have played, and the page shows "sound off".
 */
(function () {
  "use strict";
  const PATTERNS = {
    // start offsets (s) of each pulse, pulse length (s), fundamental (Hz), repeat period (s)
    high: { at: [0, 0.2, 0.4, 0.75, 0.95, 1.9, 2.1, 2.3, 2.65, 2.85], len: 0.13, freq: 660, period: 6 },
    medium: { at: [0, 0.25, 0.5], len: 0.2, freq: 523, period: 8 },
    low: { at: [0], len: 0.25, freq: 440, period: 20 },
  };
  const HARMONICS = [0, 1, 0.5, 0.33, 0.25, 0.2];  // fundamental plus four harmonics
  const LOG_SIZE = 50;
  const audio = { ctx: null, wave: null, log: [] };

  function enabled() { return audio.ctx !== null && audio.ctx.state === "running"; }

  /* Create or resume the audio context; call from a click. Resolves to whether sound is on. */
  function enable() {
    if (!audio.ctx) {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return Promise.resolve(false);
      audio.ctx = new Ctx();
      const real = new Float32Array(HARMONICS.length);
      audio.wave = audio.ctx.createPeriodicWave(real, new Float32Array(HARMONICS));
    }
    return audio.ctx.resume().then(enabled, () => false);
  }

  function disable() {
    if (audio.ctx) audio.ctx.suspend();
  }

  function pulse(start, len, freq) {
    const ctx = audio.ctx;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.setPeriodicWave(audio.wave);
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0, start);
    gain.gain.linearRampToValueAtTime(0.25, start + 0.01);
    gain.gain.setValueAtTime(0.25, start + len - 0.015);
    gain.gain.linearRampToValueAtTime(0, start + len);
    osc.connect(gain).connect(ctx.destination);
    osc.start(start);
    osc.stop(start + len + 0.02);
  }

  /* Play one burst of a priority's pattern now (or just log it when sound is off). */
  function play(priority, reason) {
    const p = PATTERNS[priority];
    if (!p) return;
    const audible = enabled();
    audio.log.push({ t: Date.now(), priority, reason: reason || "alarm", audible });
    if (audio.log.length > LOG_SIZE) audio.log.shift();
    if (!audible) return;
    const t0 = audio.ctx.currentTime + 0.02;
    for (const offset of p.at) pulse(t0 + offset, p.len, p.freq);
  }

  function period(priority) { return PATTERNS[priority].period * 1000; }

  window.VigilAudio = { enable, disable, enabled, play, period, log: () => audio.log.slice() };
})();
