/* System page, section "风险事件": risk events paged from MySQL (filters: not acknowledged, type, severity), new
   ones live at the top of page 1, cleared/acknowledged states updated in place; one acknowledge button per
   event (confirmation showing what will be sent; disabled while sending; the outcome in the dialog and under
   the filters). Acknowledging sends the audited command risk.ack through POST /api/risk-events/{uid}/ack. */
"use strict";
(function () {
  const A = window.ARBIG, $ = A.$;
  const PAGE = 50;
  const TYPES = ["FRONT_DISCONNECT", "RATE_LIMIT", "ORDER_TIMEOUT", "ORDER_PARTIAL_FILL", "ORDER_REJECTED",
    "CONSISTENCY_DRIFT", "POSITION_SYNC_FAILED", "EXTERNAL_CLOSE", "POSITION_ADOPTED", "MISSED_BY_PUSH", "QUERY_FAILED",
    "AI_DAILY_LOSS"];
  const SEVERITY_CLASS = { CRITICAL: "bad", WARNING: "warn", INFO: "" };
  const rows = new Map();  // uid -> row shown (updates merged in)
  const busy = new Set();  // uids whose ack is being sent

  function label(prefix, value) { const key = prefix + value, text = A.t(key); return text === key ? value : text; }
  function filters() {
    const f = { page_size: String(PAGE) };
    if ($("#rk-unacked").checked) f.unacked = "1";
    if ($("#rk-type").value) f.type = $("#rk-type").value;
    if ($("#rk-severity").value) f.severity = $("#rk-severity").value;
    return f;
  }
  function matches(r) {
    const f = filters();
    return (!f.unacked || !r.acknowledged_ms) && (!f.type || f.type === r.type) && (!f.severity || f.severity === r.severity);
  }
  function stateHtml(r) {
    const parts = [];
    if (r.cleared_ms) parts.push('<span class="ok">' + A.esc(A.t("risk_cleared", { t: A.fmtDateTime(r.cleared_ms) })) + "</span>");
    if (r.acknowledged_ms) {
      parts.push('<span class="muted">' + A.esc(A.t("risk_acked", { by: r.acknowledged_by || "—", t: A.fmtDateTime(r.acknowledged_ms) })) + "</span>");
    } else parts.push('<span class="warn">' + A.esc(A.t("risk_unacked")) + "</span>");
    return parts.join("<br>");
  }
  function actionHtml(r) {
    if (r.acknowledged_ms) return "";
    return "<button class='cmd risk-ack' data-uid='" + A.esc(r.uid) + "'" + (busy.has(r.uid) ? " disabled" : "") + ">"
      + A.esc(busy.has(r.uid) ? A.t("sending") : A.t("risk_ack_btn")) + "</button>";
  }
  function rowHtml(r) {
    const cls = SEVERITY_CLASS[r.severity] || "";
    return "<tr data-uid='" + A.esc(r.uid) + "' data-acked='" + (r.acknowledged_ms ? "1" : "0") + "'><td class='mono'>"
      + A.esc(A.fmtDateTime(r.ts_ms, true)) + "</td><td title='" + A.esc(r.type) + "'>" + A.esc(label("rt_", r.type))
      + "</td><td class='" + cls + "'>" + A.esc(label("rs_", r.severity)) + "</td><td class='mono'>" + A.esc(r.symbol || "—")
      + "</td><td class='wrap'>" + A.esc(r.message) + "</td><td class='rk-state'>" + stateHtml(r)
      + "</td><td class='rk-action'>" + actionHtml(r) + "</td></tr>";
  }
  function bind(tr) {
    const btn = tr.querySelector(".risk-ack");
    if (btn) btn.onclick = () => openAck(rows.get(btn.dataset.uid));
  }
  function redraw(uid) {
    const tr = $("#risk-body").querySelector("tr[data-uid='" + CSS.escape(uid) + "']");
    if (!tr) return;
    tr.insertAdjacentHTML("afterend", rowHtml(rows.get(uid)));
    const fresh = tr.nextElementSibling;
    tr.remove();
    bind(fresh);
  }
  function render(items, res) {
    const tbody = $("#risk-body");
    if (!items) { tbody.innerHTML = "<tr><td colspan=7 class='msg bad'>" + A.esc(A.refusalText(res.body)) + "</td></tr>"; return; }
    rows.clear();
    items.forEach((r) => rows.set(r.uid, r));
    tbody.innerHTML = items.length ? items.map(rowHtml).join("") : "<tr><td colspan=7 class='empty'>" + A.esc(A.t("risk_none")) + "</td></tr>";
    tbody.querySelectorAll("tr[data-uid]").forEach(bind);
  }
  function renderCount(n) {  /* the header badge's count, beside the section title */
    const el = $("#risk-unacked");
    el.textContent = A.t("risk_unacked_n", { n });
    el.classList.toggle("hidden", n === 0);
  }
  const pager = A.Pager((cursor) => A.api("GET", "/api/risk-events?" + new URLSearchParams(cursor ? { ...filters(), cursor } : filters())),
    render, { newer: $("#rk-newer"), older: $("#rk-older"), label: $("#rk-page") });

  /* live: a new event at the top of page 1 (when it passes the filters); an update merged into its row */
  function onRisk(data, kind) {
    if (kind === "snapshot") return;
    if (data.update) { merge(data); return; }
    if (!pager.onFirstPage() || !matches(data) || rows.has(data.uid)) return;
    rows.set(data.uid, data);
    const tbody = $("#risk-body"), empty = tbody.querySelector(".empty");
    if (empty) tbody.innerHTML = "";
    tbody.insertAdjacentHTML("afterbegin", rowHtml(data).replace("<tr ", "<tr class='flash' "));
    bind(tbody.rows[0]);
    while (tbody.rows.length > PAGE) { rows.delete(tbody.rows[tbody.rows.length - 1].dataset.uid); tbody.deleteRow(-1); }
  }
  function merge(u) {
    const r = rows.get(u.uid);
    if (r) {
      if (u.cleared_ms) r.cleared_ms = u.cleared_ms;
      if (u.acknowledged_ms) { r.acknowledged_ms = u.acknowledged_ms; r.acknowledged_by = u.acknowledged_by; busy.delete(u.uid); }
      redraw(u.uid);
    }
  }

  function openAck(r) {
    if (!r) return;
    const id = A.newCommandId();  // made now: a retry re-sends this same id, never acknowledged twice
    const summary = [[A.t("cmd_type"), "risk.ack"], [A.t("col_kind"), label("rt_", r.type) + " " + r.type],
      [A.t("col_level"), r.severity], [A.t("col_contract"), r.symbol || "—"], [A.t("col_time"), A.fmtDateTime(r.ts_ms)],
      ["uid", r.uid], [A.t("cmd_id"), id]];
    A.openDialog({
      title: A.t("risk_ack_title"), confirmText: A.t("risk_ack_btn"),
      html: "<div class='wrap'>" + A.esc(r.message) + "</div><div class='muted'>" + A.esc(A.t("will_send")) + ":</div>"
        + '<table class="summary">' + summary.map(([k, v]) => "<tr><th>" + A.esc(k) + "</th><td>" + A.esc(v) + "</td></tr>").join("")
        + '</table><div class="outcome"></div>',
      onConfirm: () => sendAck(r, id),
    });
  }
  async function sendAck(r, id) {
    busy.add(r.uid); redraw(r.uid);
    $("#confirm .outcome").innerHTML = '<div class="msg warn">' + A.esc(A.t("waiting")) + "</div>";
    const res = await A.api("POST", "/api/risk-events/" + encodeURIComponent(r.uid) + "/ack", { id });
    A.showOutcome(res);
    const body = res.body || {};
    if (res.status === 200 || (res.status === 409 && body.acknowledged_ms)) {  // done now, or acknowledged already
      const result = body.result || body;
      merge({ uid: r.uid, update: true, acknowledged_by: result.acknowledged_by || "operator",
        acknowledged_ms: result.acknowledged_ms || A.serverNow() });
      if (A.risk) A.risk.acknowledged(r.uid, result.acknowledged_by, result.acknowledged_ms);
    } else {
      busy.delete(r.uid); redraw(r.uid);
    }
    if (res.status === 503 || res.status === 0) {  // the same id again: the core never runs it twice
      const retry = $("#confirm-retry");
      retry.textContent = A.t("retry"); retry.classList.remove("hidden");
      retry.onclick = async () => { retry.classList.add("hidden"); await sendAck(r, id); };
    }
    $("#rk-result").innerHTML = '<div class="msg ' + (res.status === 200 ? "ok" : res.status === 409 ? "warn" : "bad") + '">'
      + A.esc(r.type + " " + (r.symbol || "") + ": ") + A.esc(res.status === 200 ? A.t("risk_ack_done") : A.refusalText(body)) + "</div>";
  }

  const typeSel = $("#rk-type");
  function fillTypes() {
    const keep = typeSel.value;
    typeSel.innerHTML = '<option value="">' + A.esc(A.t("all")) + "</option>"
      + TYPES.map((tp) => '<option value="' + tp + '">' + A.esc(label("rt_", tp)) + "</option>").join("");
    typeSel.value = keep;
  }
  fillTypes();
  ["#rk-unacked", "#rk-type", "#rk-severity"].forEach((sel) => { $(sel).onchange = () => pager.reset(); });
  A.on("risk", onRisk);
  A.risk.onChange(renderCount);
  A.onLang(() => { fillTypes(); renderCount(A.risk.count()); pager.reload(); });
  function fromBadge() {  // the header badge links here: show what is still open
    if (location.hash !== "#risk-events" || $("#rk-unacked").checked) return;
    $("#rk-unacked").checked = true; pager.reset();
  }
  window.addEventListener("hashchange", fromBadge);
  if (location.hash === "#risk-events") $("#rk-unacked").checked = true;
  renderCount(A.risk.count());
  pager.reset();
})();
