/* ARBIG console, broker errors as notices under the header on every page, until dismissed (remembered in
   localStorage): broker refusals (system events of kind broker_error, not the ones the front replays at
   login) and any ERROR event about an order. */
"use strict";
(function () {
  const A = window.ARBIG, t = A.t, $ = A.$, esc = A.esc;
  const MAX_NOTICES = 5, NOTICE_RECENT_MS = 3600 * 1000, DISMISSED_KEY = "arbig.dismissed", DISMISSED_MAX = 300;
  const notices = new Map();  // key -> system event
  function noticeKey(e) { return e.ts_ms + "|" + e.kind + "|" + String(e.message || "").slice(0, 200); }
  function dismissed() {
    try { return JSON.parse(localStorage.getItem(DISMISSED_KEY) || "[]"); } catch (e) { return []; }
  }
  function dismiss(keys) {
    const list = dismissed().filter((k) => !keys.includes(k)).concat(keys).slice(-DISMISSED_MAX);
    localStorage.setItem(DISMISSED_KEY, JSON.stringify(list));
    keys.forEach((k) => notices.delete(k));
    renderNotices();
  }
  function isNotice(e) {
    const detail = e.detail || {};
    if (e.kind === "broker_error") return !detail.replayed;
    return e.level === "ERROR" && !!detail.vt_orderid;
  }
  function onSystemEvent(data, kind) {
    const list = kind === "snapshot" ? (data || []).filter((e) => A.serverNow() - e.ts_ms < NOTICE_RECENT_MS) : [data];
    const gone = new Set(dismissed());
    let added = false;
    for (const e of list) {
      if (!e || !isNotice(e)) continue;
      const key = noticeKey(e);
      if (gone.has(key) || notices.has(key)) continue;
      notices.set(key, e); added = true;
    }
    if (added) renderNotices();
  }
  function noticeHtml(key, e) {
    const d = e.detail || {};
    const head = e.kind === "broker_error" ? t("notice_broker") : t("notice_error");
    const what = [d.symbol, d.vt_orderid].filter(Boolean).join(" ");
    return '<div class="notice ' + (e.level === "ERROR" ? "bad" : "warn") + '" data-key="' + esc(key) + '" data-kind="' + esc(e.kind) + '">'
      + "<div class='nhead'><b>" + esc(head) + "</b><span class='mono'>" + esc(A.fmtDateTime(e.ts_ms)) + "</span>"
      + (what ? "<span class='mono'>" + esc(what) + "</span>" : "")
      + "<button class='notice-x' title='" + esc(t("dismiss")) + "'>×</button></div>"
      + "<div class='nmsg'>" + esc(e.message) + "</div></div>";
  }
  function renderNotices() {
    const box = $("#notices");
    if (!box) return;
    const all = Array.from(notices.entries()).sort((a, b) => b[1].ts_ms - a[1].ts_ms);
    const shown = all.slice(0, MAX_NOTICES), more = all.length - shown.length;
    box.innerHTML = shown.map(([k, e]) => noticeHtml(k, e)).join("")
      + (all.length > 1 ? "<div class='notice-tools'>" + (more > 0 ? "<span>" + esc(t("notice_more", { n: more })) + "</span> " : "")
        + "<a href='/'>" + esc(t("notice_system")) + "</a> <button class='notice-all'>" + esc(t("dismiss_all")) + "</button></div>" : "");
    box.classList.toggle("hidden", all.length === 0);
    box.querySelectorAll(".notice-x").forEach((b) => { b.onclick = () => dismiss([b.closest(".notice").dataset.key]); });
    const allBtn = $(".notice-all", box);
    if (allBtn) allBtn.onclick = () => dismiss(all.map(([k]) => k));
  }

  A.on("system", onSystemEvent);
  A.subscribe(["system"]);
  A.onLang(renderNotices);
})();
