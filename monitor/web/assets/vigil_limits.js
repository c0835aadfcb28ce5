/* Vigil limits editor, browser side: every open Limits tab follows the version in force.
 *
 * The stream's limits message (`L.editor`, monitor/web/bed/limits_editor.py `in_force`) reaches
 * `limits-in-force`; `follow` then fills the fields with that version, its label and its preset. A user who was
 * editing (a field differing both from the version the fields were filled from and from the new one) is not left
 * with stale inputs, nor are their edits silently dropped: the fields show the new version and the notice says
 * whose change it was and which edits were not applied, with the values typed, to enter again if still wanted.
 * `follow` returns its outputs by name (FOLLOW_OUTPUTS in limits_editor.py).
 */
(function () {
  "use strict";
  const noUpdate = () => window.dash_clientside.no_update;
  const text = (v) => (v === null || v === undefined ? "" : String(v).trim());
  const same = (a, b) => a === b || (a !== "" && b !== "" && Number(a) === Number(b));

  /* What a field is called in the editor: its row's short name and its column ("SYS high"). */
  function fieldName(id) {
    const row = document.getElementById(JSON.stringify({ group: id.group, key: id.key, type: id.type }));
    return (row && row.getAttribute("aria-label")) || id.group + " " + id.key;
  }

  function follow(inForce, values, fieldIds, shown) {
    if (!inForce || (shown && inForce.version === shown.version)) return noUpdate();
    const key = (id) => id.group + "." + id.key;
    const next = fieldIds.map((id) => text(inForce.values[key(id)]));
    const typed = values.map(text);
    const lost = fieldIds
      .map((id, i) => ({ id, typed: typed[i], was: text(shown && shown.values[key(id)]), next: next[i] }))
      .filter((f) => !same(f.typed, f.was) && !same(f.typed, f.next));
    const changed = typed.some((v, i) => !same(v, next[i]));
    const edits = lost.map((f) => fieldName(f.id) + " " + (f.typed === "" ? "blank" : f.typed)).join(", ");
    return {
      values: changed ? next : noUpdate(),
      label: inForce.label,
      preset: inForce.preset || "choose…",
      notice: lost.length ? "The limits were changed (" + inForce.label + ") while you were editing: your edits were " +
        "not applied (" + edits + "). The fields now show version " + inForce.version + "." : "",
      shown: inForce,
    };
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, { vigilLimits: { follow } });
})();
