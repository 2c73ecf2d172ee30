/* Header badge on every page: the number of risk events not acknowledged yet, linking to the system page's
   section. Baseline from GET /api/risk-events?unacked=1 at load and from the "risk" topic's snapshot (the same
   query) on every (re)subscribe; then live: a new event adds its uid, an acknowledgement removes it (by uid, so
   a repeated push never counts twice). Pushes of the last RECENT_MS are replayed over each baseline, since the
   core pushes before its writer stores the row. Hidden at 0. A.risk lets the system page report an
   acknowledgement it got as an answer before the push arrives. */
"use strict";
(function () {
  const A = window.ARBIG, $ = A.$;
  const BADGE_ROWS = 100, RECENT_MS = 30000;
  let unacked = new Set(), extra = 0, known = false;
  const acked = new Set(), recent = [], listeners = [];

  function apply(row) {
    if (!row || !row.uid) return;
    if (row.update) {
      if (row.acknowledged_ms === null || row.acknowledged_ms === undefined) return;  // cleared: still unacknowledged
      if (!unacked.delete(row.uid) && !acked.has(row.uid) && extra > 0) extra -= 1;  // one counted beyond the baseline's rows
      acked.add(row.uid);
    } else if (!row.acknowledged_ms && !acked.has(row.uid)) {
      unacked.add(row.uid);
    }
  }
  function baseline(body) {
    if (!body || !Array.isArray(body.items) || typeof body.unacked_count !== "number") return;  // MySQL down: keep what we had
    unacked = new Set(body.items.filter((r) => !acked.has(r.uid)).map((r) => r.uid));
    extra = Math.max(0, body.unacked_count - body.items.length);
    known = true;
    const now = Date.now();
    while (recent.length && now - recent[0].at > RECENT_MS) recent.shift();
    recent.forEach((r) => apply(r.row));
    render();
  }
  function count() { return known ? unacked.size + extra : 0; }
  function render() {
    const el = $("#risk-badge"), n = count();
    if (!el) return;
    el.dataset.count = String(n);
    el.classList.toggle("hidden", n === 0);
    el.innerHTML = '<span class="dot"></span>' + A.esc(A.t("risk_badge", { n }));
    el.title = A.t("risk_badge_title", { n });
    listeners.forEach((fn) => { try { fn(n); } catch (e) { console.error(e); } });
  }
  function live(row) {
    recent.push({ at: Date.now(), row });
    apply(row);
    render();
  }
  async function load() {
    const res = await A.api("GET", "/api/risk-events?" + new URLSearchParams({ unacked: "1", page_size: String(BADGE_ROWS) }));
    if (res.status === 200) baseline(res.body);
  }

  A.on("risk", (data, kind) => { if (kind === "snapshot") baseline(data); else live(data); });
  A.subscribe(["risk"]);
  A.onLang(render);
  A.risk = {
    count,
    onChange(fn) { listeners.push(fn); },
    /* The core answered an ack (or said it was acknowledged already): count it now, the push may follow. */
    acknowledged(uid, by, ms) { live({ uid, update: true, acknowledged_by: by || "", acknowledged_ms: ms || Date.now() }); },
  };
  document.addEventListener("DOMContentLoaded", () => { render(); load(); });
})();
