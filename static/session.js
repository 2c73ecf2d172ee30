/* The exchange session state (header pill #session-pill on every page, box #session-box on the market
   page), from the core's heartbeat (status.heartbeat.session, common/trading_sessions.py): "24h demo" in the
   simulator's always mode, else open (until when) / break / closed with the reason and the next open,
   China time. While the page is disconnected, the core is down or the heartbeat has no session, both say
   "unknown" (never the last good state). Texts in static/i18n_session.js. */
"use strict";
(function () {
  const A = window.ARBIG, $ = A.$;
  const TZ = "Asia/Shanghai";
  const dayFmt = new Intl.DateTimeFormat("sv-SE", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit" });
  const hmFmt = new Intl.DateTimeFormat("sv-SE", { timeZone: TZ, hour: "2-digit", minute: "2-digit", hour12: false });
  const PILL_CLASS = { always: "ok", open: "ok", break: "warn", closed: "bad", unknown: "warn" };

  /* The session to show, or {unknown: why} when it cannot be trusted now. */
  function current() {
    const st = A.state.status;
    if (A.state.ws !== "open") return { unknown: A.t("ss_why_ws") };
    if (!st || st.core_alive !== true || !st.heartbeat) return { unknown: A.t("ss_why_core") };
    if (!st.heartbeat.session) return { unknown: A.t("ss_why_none") };
    return st.heartbeat.session;
  }
  /* "09:00" today (China time), else "11-23 09:00"; the full date-time in the box. */
  function shortTime(ms) {
    if (ms === null || ms === undefined) return A.t("none");
    const sameDay = dayFmt.format(new Date(ms)) === dayFmt.format(new Date(A.serverNow()));
    return sameDay ? hmFmt.format(new Date(ms)) : dayFmt.format(new Date(ms)).slice(5) + " " + hmFmt.format(new Date(ms));
  }
  function fullTime(ms) {
    return ms === null || ms === undefined ? A.t("none") : dayFmt.format(new Date(ms)) + " " + hmFmt.format(new Date(ms));
  }
  /* The core's English reason in the page's language (holiday reasons carry their date). */
  function reasonText(reason) {
    if (!reason) return "";
    let m = /^no night session before holiday (\d{4}-\d{2}-\d{2})$/.exec(reason);
    if (m) return A.t("ss_r_holiday_eve", { date: m[1] });
    m = /^holiday (\d{4}-\d{2}-\d{2})$/.exec(reason);
    if (m) return A.t("ss_r_holiday", { date: m[1] });
    const key = "ss_r_" + reason.replace(/\W+/g, "_");
    const text = A.t(key);
    return text === key ? reason : text;
  }
  function kind(s) { return s.unknown ? "unknown" : s.mode === "always" ? "always" : s.state; }

  function pillText(s) {
    const k = kind(s);
    if (k === "unknown") return A.t("ss_pill_unknown");
    if (k === "always") return A.t("ss_pill_always");
    if (k === "open") return A.t("ss_pill_open", { time: shortTime(s.closes_ms) });
    const head = k === "break" ? reasonText(s.reason) : A.t("ss_closed");
    return A.t("ss_pill_next", { state: head, time: shortTime(s.next_open_ms) });
  }
  function renderPill(s) {
    const el = $("#session-pill");
    if (!el) return;
    const k = kind(s);
    el.className = "pill session-pill " + PILL_CLASS[k] + (k === "always" ? " session-demo" : "");
    el.innerHTML = '<span class="dot"></span>' + A.esc(pillText(s));
    el.dataset.state = k;
    el.title = s.unknown ? s.unknown : [A.t("ss_title"), reasonText(s.reason)].filter(Boolean).join(" · ");
  }

  function row(label, value, id) {
    return "<div><label>" + A.esc(label) + '</label><span class="text" id="' + id + '">' + A.esc(value) + "</span></div>";
  }
  function boxRows(s) {
    const k = kind(s);
    const rows = [row(A.t("ss_state"), A.t("ss_state_" + k), "ss-state")];
    if (k === "unknown") return rows.concat(row(A.t("ss_reason"), s.unknown, "ss-reason"));
    rows.push(row(A.t("ss_mode"), A.t("ss_mode_" + s.mode), "ss-mode"));
    if (s.reason) rows.push(row(A.t("ss_reason"), reasonText(s.reason), "ss-reason"));
    if (k === "open") rows.push(row(A.t("ss_closes"), fullTime(s.closes_ms), "ss-closes"));
    if (k === "break" || k === "closed") rows.push(row(A.t("ss_next_open"), fullTime(s.next_open_ms), "ss-next-open"));
    return rows;
  }
  function renderBox(s) {
    const box = $("#session-box");
    if (!box) return;
    const k = kind(s);
    box.className = "panel session-box " + k;
    box.dataset.state = k;
    box.innerHTML = "<h2><span>" + A.esc(A.t("ss_title")) + '</span><span class="right muted">' + A.esc(A.t("ss_tz"))
      + '</span></h2><div class="body kv">' + boxRows(s).join("") + "</div>";
  }

  let last = "";
  function render() {
    const s = current();
    const key = JSON.stringify([s, A.lang(), shortTime(s.next_open_ms), shortTime(s.closes_ms)]);
    if (key === last) return;  // unchanged: leave the DOM alone
    last = key;
    renderPill(s);
    renderBox(s);
  }

  A.on("heartbeat", () => setTimeout(render, 0));  // after app.js's own handler has stored the status
  document.addEventListener("arbig:state", render);  // connection changes, where the live client announces them
  A.onLang(() => { last = ""; render(); });
  document.addEventListener("DOMContentLoaded", () => { render(); setInterval(render, 1000); });
})();
