/* The emergency stop (every page's header button) with "and close all positions": the stop is sent as before
   (strategies stopped, active orders cancelled, follow-ups ended); when the box is ticked, the page then waits until
   no order is active (the "orders" topic; what is still active is shown, with a warning after WAIT_WARN_MS) and
   opens a SECOND confirmation listing every close it will send (one row per position: contract, direction, volume,
   MARKET). That sends `positions.flatten` with the list as `expect` (the core refuses if the positions changed),
   and each close is followed to its outcome on screen (outcomes.js). Uses A.onEstop when app.js offers it. */
"use strict";
(function () {
  const A = window.ARBIG, $ = A.$, O = window.ARBIG_OUTCOMES;
  const ACTIVE = ["SUBMITTING", "NOTTRADED", "PARTTRADED"];
  const WAIT_WARN_MS = 10000, POLL_MS = 2000;
  const orders = new Map();
  let listening = false, snapshotSeen = false, waiting = null;  // waiting: {dlg, since, timer}

  function esc(s) { return A.esc(s); }
  function summary(rows) {
    return "<table class='summary'>" + rows.map(([k, v]) => "<tr><th>" + esc(k) + "</th><td>" + esc(v) + "</td></tr>").join("") + "</table>";
  }
  function buttonsAfterAnswer() {
    const ok = $("#confirm-ok"), cancel = $("#confirm-cancel");
    ok.classList.add("hidden"); cancel.disabled = false; cancel.textContent = A.t("close");
  }
  function answerHtml(res) {
    const head = res.body && res.body.status ? A.t(res.body.status) : "HTTP " + res.status;
    return "<div class='msg " + (res.status === 200 ? "ok" : "bad") + "'><b>" + esc(head) + "</b> "
      + esc(res.status === 200 ? "" : O.refusal(res.body)) + "</div>";
  }
  function offerRetry(res, again) {
    if (res.status !== 503 && res.status !== 0) return;  // safe: the same id is never executed twice
    const retry = $("#confirm-retry");
    retry.textContent = A.t("retry"); retry.classList.remove("hidden");
    retry.onclick = () => { retry.classList.add("hidden"); $("#confirm-cancel").disabled = true; again(); };
  }

  /* ---------------------------------------------------------------- 1. the emergency stop */
  function openEstop() {
    const id = A.newCommandId();
    const html = "<div>" + esc(A.t("estop_text")) + "</div><div class='muted'>" + esc(A.t("will_send")) + ":</div>"
      + summary([[A.t("cmd_type"), "emergency.stop"], [A.t("cmd_id"), id]])
      + "<label class='fl-opt'><input type='checkbox' id='fl-close-all'> " + esc(A.t("fl_close_all")) + "</label>"
      + "<div class='muted fl-hint'>" + esc(A.t("fl_close_all_hint")) + "</div><div class='outcome'></div><div class='fl-wait'></div>";
    const dlg = A.openDialog({ title: A.t("estop_title"), danger: true, confirmText: A.t("estop"), html,
      onConfirm: (d) => sendStop(d, id) });
    dlg.addEventListener("close", stopWaiting, { once: true });
  }
  async function sendStop(dlg, id) {
    const box = $("#fl-close-all", dlg), closeAll = !!(box && box.checked);
    if (box) box.disabled = true;
    $(".outcome", dlg).innerHTML = "<div class='msg warn'>" + esc(A.t("waiting")) + "</div>";
    const res = await A.api("POST", "/api/commands", { id, type: "emergency.stop", params: {} });
    const r = (res.body && res.body.result) || {};
    $(".outcome", dlg).innerHTML = answerHtml(res) + (res.status === 200 ? "<div class='muted fl-stop-result'>" + esc(A.t("fl_stop_result", {
      strategies: (r.stopped_strategies || []).join(", ") || A.t("none"), orders: (r.cancelled_orders || []).length,
      executions: (r.ended_executions || []).length })) + "</div>" : "");
    buttonsAfterAnswer();
    offerRetry(res, () => sendStop(dlg, id));
    if (res.status === 200 && closeAll) waitQuiet(dlg);
  }

  /* ---------------------------------------------------------------- 2. wait until no order is active */
  function listen() {
    if (listening) return;
    listening = true;
    A.on("orders", (data, kind) => {
      if (kind === "snapshot") { orders.clear(); snapshotSeen = true; }
      (kind === "snapshot" ? data || [] : [data]).forEach((o) => { if (o && o.vt_orderid) orders.set(o.vt_orderid, o); });
      if (waiting) checkQuiet();
    });
  }
  function activeOrders() { return Array.from(orders.values()).filter((o) => ACTIVE.includes(o.status)); }
  function waitQuiet(dlg) {
    listen();
    snapshotSeen = false;
    A.subscribe(["orders"]);  // a fresh snapshot: what is active now
    waiting = { dlg, since: Date.now(), timer: setInterval(checkQuiet, 500), polled: null,
      poll: setInterval(pollActive, POLL_MS) };
    checkQuiet();
  }
  /* The live view can miss the last update (a snapshot read just before the cancel was stored): every POLL_MS the
     active orders are also read from the API; either source finding none is enough. */
  async function pollActive() {
    const res = await A.api("GET", "/api/orders?active_only=true");
    if (waiting && res.status === 200 && Array.isArray(res.body)) { waiting.polled = res.body; checkQuiet(); }
  }
  function stopWaiting() { if (waiting) { clearInterval(waiting.timer); clearInterval(waiting.poll); } waiting = null; }
  function checkQuiet() {
    if (!waiting) return;
    const box = $(".fl-wait", waiting.dlg);
    if (!box || !waiting.dlg.open) { stopWaiting(); return; }
    const live = snapshotSeen ? activeOrders() : null, polled = waiting.polled;
    const active = polled && polled.length === 0 ? polled : live || polled;
    if (active && active.length === 0) {
      const dlg = waiting.dlg;
      stopWaiting();
      box.innerHTML = "<div class='msg ok'>" + esc(A.t("fl_quiet")) + "</div>";
      openFlatten(dlg);
      return;
    }
    const late = Date.now() - waiting.since > WAIT_WARN_MS;
    const list = (active || []).map((o) => o.vt_orderid + " " + o.symbol + " " + o.direction + " " + o.offset + " "
      + (Number(o.volume) - Number(o.traded)) + " " + o.status).join(" · ");
    box.innerHTML = "<div class='msg " + (late ? "bad" : "warn") + " fl-waiting'>" + esc(A.t(late ? "fl_wait_late" : "fl_wait",
      { n: active ? active.length : "…", s: Math.round(WAIT_WARN_MS / 1000) })) + (list ? "<div class='mono'>" + esc(list) + "</div>" : "") + "</div>";
  }

  /* ---------------------------------------------------------------- 3. the second confirmation: every close */
  async function openFlatten(previous) {
    const res = await A.api("GET", "/api/positions");
    if (res.status !== 200) {
      $(".fl-wait", previous).innerHTML = "<div class='msg bad'>" + esc(A.refusalText(res.body)) + "</div>";
      return;
    }
    const legs = (res.body || []).filter((p) => (p.direction === "LONG" || p.direction === "SHORT") && p.volume > 0)
      .map((p) => ({ vt_symbol: p.vt_symbol, direction: p.direction, volume: Math.round(p.volume) }));
    if (previous.open) previous.close("flatten");
    const id = A.newCommandId();
    const rows = legs.map((l, i) => "<tr data-key='" + esc(l.vt_symbol + "|" + l.direction) + "'><td class='mono'>" + esc(l.vt_symbol)
      + "</td><td class='" + (l.direction === "LONG" ? "up" : "down") + "'>" + esc(A.t(l.direction) + " " + l.direction) + "</td><td class='num'>"
      + A.num(l.volume, 0) + "</td><td>" + esc(A.t("MARKET") + " MARKET") + "</td></tr><tr class='fl-out-row'><td colspan=4><div class='fl-out' data-i='"
      + i + "'></div></td></tr>").join("");
    const html = legs.length
      ? "<div>" + esc(A.t("fl_text", { n: legs.length })) + "</div><table class='summary fl-legs'><thead><tr><th>" + esc(A.t("col_contract"))
        + "</th><th>" + esc(A.t("fl_position")) + "</th><th class='num'>" + esc(A.t("col_volume")) + "</th><th>" + esc(A.t("price_type"))
        + "</th></tr></thead><tbody>" + rows + "</tbody></table><div class='muted mono'>positions.flatten · " + esc(A.t("cmd_id")) + " " + esc(id)
        + "</div><div class='outcome'></div>"
      : "<div class='msg ok fl-flat'>" + esc(A.t("fl_nothing")) + "</div>";
    const dlg = A.openDialog({ title: A.t("fl_title"), danger: true, confirmText: A.t("fl_confirm", { n: legs.length }), html,
      onConfirm: (d) => sendFlatten(d, id, legs) });
    if (!legs.length) buttonsAfterAnswer();
    else A.gateButton($("#confirm-ok"), false);
    return dlg;
  }
  async function sendFlatten(dlg, id, legs) {
    $(".outcome", dlg).innerHTML = "<div class='msg warn'>" + esc(A.t("waiting")) + "</div>";
    const res = await A.api("POST", "/api/commands", { id, type: "positions.flatten", params: { expect: legs } });
    const closes = res.status === 200 ? (res.body.result || {}).closes || [] : [];
    $(".outcome", dlg).innerHTML = res.status === 200
      ? "<div class='muted fl-sent'>" + esc(A.t("fl_sent", { n: closes.length })) + "</div>" : answerHtml(res);
    buttonsAfterAnswer();
    offerRetry(res, () => sendFlatten(dlg, id, legs));
    if (res.status === 200) {
      closes.forEach((c) => followClose(dlg, c, legs));
    } else if (res.body && res.body.code === "flatten_changed") {  // look again: a new confirmation with the positions now
      const again = document.createElement("button");
      again.textContent = A.t("fl_look_again"); again.className = "fl-again";
      again.onclick = () => openFlatten(dlg);
      $(".outcome", dlg).appendChild(again);
    }
  }
  function followClose(dlg, c, legs) {
    const i = legs.findIndex((l) => l.vt_symbol === c.vt_symbol && l.direction === c.direction);
    const into = i >= 0 ? $(".fl-out[data-i='" + i + "']", dlg) : null;
    const what = A.t("fl_close_label", { dir: A.t(c.direction), volume: c.volume, symbol: c.vt_symbol });
    A.follow(c.orders || [], { label: what, executionId: c.execution_id, volume: c.volume, into });
  }

  function install() {
    if (A.onEstop) { A.onEstop(openEstop); return; }
    const btn = $("#estop");
    if (btn) btn.onclick = openEstop;  // app.js set its own handler on DOMContentLoaded, before this one
  }
  A.openEstop = openEstop;
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", install);
  else install();
})();
