/* Vigil, browser side: the page's hot outputs written straight into the DOM, as `window.VigilDom`.
 *
 * Numerics, ages, clocks, countdowns and the alarm banner change with every message and every second. Through
 * Dash each change was a callback, several milliseconds of the main thread in Redux and React whatever it
 * changed (one bed at 1 reading/s kept a page 10–14 % busy); written here a change costs one DOM write, and only
 * when the text differs. The elements written are ones the layout renders with fixed props and no callback
 * outputs to: React, whose props for them never change, leaves what is written here alone.
 */
(function () {
  "use strict";
  const built = new WeakMap();  // element -> the items its children were last built from (as JSON)

  function text(id, value) {
    const el = document.getElementById(id);
    if (el && el.textContent !== value) el.textContent = value;
  }

  function cls(id, value) {
    const el = document.getElementById(id);
    if (el && el.className !== value) el.className = value;
  }

  function title(id, value) {
    const el = document.getElementById(id);
    if (el && el.title !== value) el.title = value;
  }

  /* An element: `children` a string or a list of elements; `attrs` more attributes ("data-alarm"). */
  function node(tag, className, children, attrs) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    for (const [name, value] of Object.entries(attrs || {})) el.setAttribute(name, value);
    if (Array.isArray(children)) el.replaceChildren(...children);
    else el.textContent = children;
    return el;
  }

  /* The children of element `id` built from `items` by `build` (which returns a string or a list of elements),
   * rebuilt only when `items` differ from the last: a banner scrolled by the nurse stays where it is. */
  function list(id, items, build) {
    const el = document.getElementById(id);
    if (!el) return;
    const key = JSON.stringify(items);
    if (built.get(el) === key) return;
    built.set(el, key);
    const children = build(items);
    if (Array.isArray(children)) el.replaceChildren(...children);
    else el.textContent = children;
  }

  window.VigilDom = { text, cls, title, node, list };
})();
