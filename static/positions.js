/* Positions page: live positions with both prices (average open price and the broker's settlement-based cost)
   and the PnL against each, one close button per row (second confirmation showing exactly what will be sent, and
   "stop strategy X first" when a running strategy trades that contract), the close followed to its final state
   (outcomes.js: "sent, waiting for the exchange", then filled / rejected with the reason ...; a MARKET close refused
   for want of a price switches the dialog to LIMIT), and today's orders, finished ones included (status and the
   broker's reason) unless "active only", with cancel. No batch close (the emergency stop's flatten is in flatten.js).
   Close and cancel are disabled, with the reason, while the trade gate (app.js) is closed. The exit plan column
   shows the AI agent's plan on a position (stop loss / take profit / invalidation, triggered) from the core's AI
   state ("ai_state" topic), matched by contract and direction; "—" when it has none. */
"use strict";
(function () {
  const A = window.ARBIG, $ = A.$;
  const HOLD_DISABLED_MS = 5000;
  let rows = [], orders = new Map();
  const strategies = new Map();  // name -> StrategyState (the close asks to stop a running one on its contract)
  const busy = new Map(); // row key -> time the close was confirmed (button stays disabled meanwhile)
  let plans = new Map();  // "{vt_symbol}|{direction}" (a row's key) -> the AI's exit plan on it

  function dirLabel(d) { return A.t(d) + " " + d; }
  /* A PnL cell: live when there is a price, else the gateway's figure marked with * (title says so). */
  function pnlCell(cls, v, live) {
    return "<td class='num " + cls + " " + A.pnlClass(v) + "'" + (live ? "" : " title='" + A.esc(A.t("pnl_core")) + "'") + ">"
      + A.signed(v) + (live ? "" : "*") + "</td>";
  }
  function planCell(r) {
    const p = plans.get(r.key);
    if (!p) return "<td class='c-plan muted'>" + A.esc(A.t("none")) + "</td>";
    const levels = [[A.t("ai_sl"), p.stop_loss], [A.t("ai_tp"), p.take_profit]].filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => A.esc(k) + " <span class='mono'>" + A.num(v) + "</span>").join(" · ");
    const trig = p.triggered ? " <span class='warn'>" + A.esc(A.t("ai_triggered_" + p.triggered)) + "</span>" : "";
    return "<td class='c-plan wrap' title='" + A.esc(p.invalidation || "") + "'>" + (levels || A.esc(A.t("none"))) + trig
      + (p.invalidation ? "<div class='muted'>" + A.esc(A.t("ai_invalidation") + ": " + p.invalidation) + "</div>" : "") + "</td>";
  }
  function rowHtml(r) {
    const live = r.pnl_source === "live", gate = A.tradeBlock();
    const disabled = busy.has(r.key) || gate ? " disabled" : "";
    return '<tr data-key="' + A.esc(r.key) + '"><td class="mono">' + A.esc(r.vt_symbol) + "</td><td class='" + (r.direction === "LONG" ? "up" : "down") + "'>"
      + A.esc(dirLabel(r.direction)) + "</td><td class='num'>" + A.num(r.volume, 0) + "</td><td class='num'>" + A.num(r.td_volume, 0) + " / " + A.num(r.yd_volume, 0)
      + "</td><td class='num'>" + A.num(r.frozen, 0) + "</td><td class='num c-price'>" + A.num(r.price, 3) + "</td>" + pnlCell("c-pnl", r.pnl, live)
      + "<td class='num c-cost'>" + A.num(r.cost_price, 3) + "</td>" + pnlCell("c-mtm", r.mtm_pnl, live)
      + "<td class='num c-last'>" + A.num(r.last_price) + "</td><td class='num'>" + A.num(r.margin) + "</td>" + planCell(r)
      + "<td><button class='danger close-btn'" + disabled + " title='" + A.esc(gate) + "'>" + A.esc(A.t("close_btn")) + "</button></td></tr>";
  }
  function renderPositions() {
    const tbody = $("#pos-body");
    for (const [key, at] of busy) if (Date.now() - at > HOLD_DISABLED_MS && at > 0) busy.delete(key);
    const shown = Array.from(tbody.querySelectorAll("tr[data-key]"), (tr) => tr.dataset.key);
    if (rows.length && shown.join("\n") === rows.map((r) => r.key).join("\n")) {
      updateInPlace(tbody);  // same rows: touch only the cells, so a click on a button is never lost
      return;
    }
    tbody.innerHTML = rows.length ? rows.map(rowHtml).join("") : "<tr><td colspan=13 class='empty'>" + A.esc(A.t("no_positions")) + "</td></tr>";
    tbody.querySelectorAll(".close-btn").forEach((btn) => {
      const key = btn.closest("tr").dataset.key;
      btn.onclick = () => openClose(rows.find((r) => r.key === key));
    });
  }
  function updateInPlace(tbody) {
    const scratch = document.createElement("tbody");
    rows.forEach((r, i) => {
      scratch.innerHTML = rowHtml(r);
      const fresh = scratch.rows[0].cells, cells = tbody.rows[i].cells;
      for (let c = 0; c < cells.length - 1; c++) {
        if (cells[c].innerHTML !== fresh[c].innerHTML) cells[c].innerHTML = fresh[c].innerHTML;
        cells[c].className = fresh[c].className; cells[c].title = fresh[c].title;
      }
      const btn = cells[cells.length - 1].querySelector("button");
      A.gateButton(btn, busy.has(r.key)); btn.textContent = A.t("close_btn");
    });
  }

  function runningOn(vt) { return Array.from(strategies.values()).filter((s) => s.vt_symbol === vt && s.trading); }
  function closeParams(dlg, ctx) {
    const type = $("#c-type", dlg).value, stop = $("#c-stop", dlg), row = ctx.row;
    const params = { vt_symbol: row.vt_symbol, direction: row.direction, volume: Number($("#c-volume", dlg).value), price_type: type,
      price: null, stop_strategies: !!(stop && stop.checked) };
    if (type === "LIMIT") params.price = Number($("#c-price", dlg).value) || null;
    return params;
  }
  function renderSummary(dlg, ctx) {
    const p = closeParams(dlg, ctx), row = ctx.row;
    $("#c-price", dlg).disabled = p.price_type !== "LIMIT" || ctx.sending;
    $("#c-summary", dlg).innerHTML = '<table class="summary">'
      + [["command", "position.close"], [A.t("col_contract"), p.vt_symbol], [A.t("col_direction"), dirLabel(p.direction)],
        [A.t("close_volume"), p.volume], [A.t("price_type"), A.t(p.price_type) + " " + p.price_type], [A.t("price"), p.price === null ? "—" : p.price],
        [A.t("stop_strategies"), p.stop_strategies ? A.t("yes") : A.t("no")], [A.t("cmd_id"), ctx.id]]
        .map(([k, v]) => "<tr><th>" + A.esc(k) + "</th><td>" + A.esc(v) + "</td></tr>").join("") + "</table>";
    const ok = p.volume >= 1 && p.volume <= row.volume && Number.isInteger(p.volume) && (p.price_type === "MARKET" || p.price > 0);
    if (!ctx.sending) A.gateButton($("#confirm-ok"), !ok);
  }
  function openClose(row) {
    if (!row) return;
    const ctx = { row, id: A.newCommandId(), sending: false };  // id made now: a double click or a retry re-sends it
    const running = runningOn(row.vt_symbol);
    const html = '<div class="fields"><label>' + A.esc(A.t("col_contract")) + '</label><span class="mono">' + A.esc(row.vt_symbol + " " + dirLabel(row.direction)) + "</span>"
      + "<label>" + A.esc(A.t("close_volume")) + '</label><span><input id="c-volume" type="number" min="1" step="1" max="' + row.volume + '" value="' + row.volume + '"> / ' + A.num(row.volume, 0) + "</span>"
      + "<label>" + A.esc(A.t("price_type")) + '</label><select id="c-type"><option value="MARKET">' + A.esc(A.t("MARKET")) + ' MARKET</option><option value="LIMIT">' + A.esc(A.t("LIMIT")) + " LIMIT</option></select>"
      + "<label>" + A.esc(A.t("price")) + '</label><input id="c-price" type="number" step="0.02" min="0" value="' + (row.last_price || "") + '"></div>'
      + (running.length ? '<label class="c-stop-box"><input type="checkbox" id="c-stop" checked> ' + A.esc(A.t("close_stop_first",
        { names: running.map((s) => s.name + " (pos " + ((s.variables || {}).pos ?? "?") + ")").join(", ") })) + "</label>" : "")
      + '<div class="muted">' + A.esc(A.t("will_send")) + ':</div><div id="c-summary"></div><div class="c-note"></div><div class="outcome"></div>';
    const dlg = A.openDialog({
      title: A.t("close_title"), danger: true, confirmText: A.t("confirm_close"), html,
      onConfirm: (d) => sendClose(d, ctx),
    });
    dlg.querySelectorAll("input, select").forEach((el) => { el.oninput = () => renderSummary(dlg, ctx); });
    renderSummary(dlg, ctx);
  }
  function setFields(dlg, enabled) {
    dlg.querySelectorAll(".fields input, .fields select, #c-stop").forEach((el) => { el.disabled = !enabled; });
  }
  async function sendClose(dlg, ctx) {
    const params = closeParams(dlg, ctx), row = ctx.row;
    ctx.sending = true; setFields(dlg, false);
    busy.set(row.key, -1); renderPositions();
    $(".outcome", dlg).innerHTML = '<div class="msg warn">' + A.esc(A.t("waiting")) + "</div>";
    const res = await A.api("POST", "/api/commands", { id: ctx.id, type: "position.close", params });
    answered(dlg, ctx, params, res);
  }
  function answered(dlg, ctx, params, res) {
    const row = ctx.row, out = $(".outcome", dlg), ok = $("#confirm-ok"), cancel = $("#confirm-cancel");
    cancel.disabled = false;
    if (res.status === 200) {
      const r = res.body.result || {};
      ok.classList.add("hidden"); cancel.textContent = A.t("close");
      if ((r.stopped_strategies || []).length) {
        $(".c-note", dlg).innerHTML = "<div class='msg ok'>" + A.esc(A.t("tk_stopped", { names: r.stopped_strategies.join(", ") })) + "</div>";
      }
      const what = A.t("fl_close_label", { dir: A.t(row.direction), volume: params.volume, symbol: row.vt_symbol });
      busy.set(row.key, Date.now());
      report(row, "warn", A.t("out_pending"));
      A.follow(r.orders || [], { label: what, executionId: r.execution_id, volume: params.volume, into: out })
        .onDone((tr) => report(row, tr.outcome === "filled" ? "ok" : "bad", tr.el.querySelector(".t-state").textContent));
      return;
    }
    busy.delete(row.key);
    const text = window.ARBIG_OUTCOMES.refusal(res.body);
    if (res.body && res.body.code === "no_price" && params.price_type === "MARKET") {
      // no bid/ask for a MARKET close: ask for a limit price instead, under a new id (the refused one is spent)
      ctx.id = A.newCommandId(); ctx.sending = false;
      out.innerHTML = "<div class='msg bad c-no-price'>" + A.esc(text) + " " + A.esc(A.t("close_no_price")) + "</div>";
      setFields(dlg, true);
      $("#c-type", dlg).value = "LIMIT";
      renderSummary(dlg, ctx);
      $("#c-price", dlg).focus();
      report(row, "bad", text);
      return;
    }
    ok.classList.add("hidden"); cancel.textContent = A.t("close");
    out.innerHTML = "<div class='msg bad'><b>" + A.esc(res.body && res.body.status ? A.t(res.body.status) : "HTTP " + res.status) + "</b> " + A.esc(text) + "</div>";
    report(row, "bad", text);
    if (res.status === 503 || res.status === 0) {  // offer a retry with the same id (never runs twice)
      const retry = $("#confirm-retry");
      retry.textContent = A.t("retry"); retry.classList.remove("hidden");
      retry.onclick = async () => {
        retry.classList.add("hidden"); cancel.disabled = true; busy.set(row.key, -1);
        answered(dlg, ctx, params, await A.api("POST", "/api/commands", { id: ctx.id, type: "position.close", params }));
      };
    }
  }
  function report(row, cls, text) {
    $("#pos-result").innerHTML = '<div class="msg ' + cls + '">' + A.esc(row.vt_symbol + " " + row.direction + ": " + text) + "</div>";
    renderPositions();
  }

  const ACTIVE = ["SUBMITTING", "NOTTRADED", "PARTTRADED"];
  function statusLabel(status) {
    const key = "os_" + status, text = A.t(key);
    return text === key ? status : text + " " + status;
  }
  function orderRow(o) {
    const active = ACTIVE.includes(o.status), gate = A.tradeBlock();
    const cls = o.status === "REJECTED" ? "bad" : o.status === "CANCELLED" ? "muted" : o.status === "ALLTRADED" ? "ok" : "";
    return "<tr data-id='" + A.esc(o.vt_orderid) + "' data-status='" + A.esc(o.status) + "'><td class='mono'>" + A.esc(A.fmtTime(o.ts_ms))
      + "</td><td class='mono'>" + A.esc(o.vt_orderid) + "</td><td class='mono'>" + A.esc(o.symbol)
      + "</td><td>" + A.esc(o.direction) + "</td><td>" + A.esc(o.offset) + "</td><td>" + A.esc(o.type) + "</td><td class='num'>" + A.num(o.price)
      + "</td><td class='num'>" + A.num(o.volume, 0) + "</td><td class='num'>" + A.num(o.traded, 0) + "</td><td class='o-status " + cls + "'>"
      + A.esc(statusLabel(o.status)) + "</td><td class='wrap o-reason " + (o.status === "REJECTED" ? "bad" : "") + "'>" + A.esc(o.reason)
      + "</td><td>" + (active ? "<button class='cancel-btn' data-id='" + A.esc(o.vt_orderid) + "'" + (gate ? " disabled" : "")
        + " title='" + A.esc(gate) + "'>" + A.esc(A.t("cancel_btn")) + "</button>" : "") + "</td></tr>";
  }
  /* Today's orders, newest first: rejected and cancelled ones too (with the broker's reason), unless "active only". */
  function renderOrders() {
    const activeOnly = $("#active-only").checked;
    const list = Array.from(orders.values()).filter((o) => !activeOnly || ACTIVE.includes(o.status))
      .sort((a, b) => b.ts_ms - a.ts_ms);
    const tbody = $("#orders-body");
    tbody.innerHTML = list.length ? list.map(orderRow).join("") : "<tr><td colspan=12 class='empty'>" + A.esc(A.t("no_orders")) + "</td></tr>";
    tbody.querySelectorAll(".cancel-btn").forEach((btn) => {
      btn.onclick = () => A.confirmCommand({ title: A.t("cancel_btn"), type: "order.cancel", params: { vt_orderid: btn.dataset.id }, danger: true });
    });
  }

  A.on("positions", (data) => { rows = data || []; renderPositions(); });
  A.on("orders", (data, kind) => {
    if (kind === "snapshot") orders = new Map(data.map((o) => [o.vt_orderid, o]));
    else orders.set(data.vt_orderid, data);
    renderOrders();
  });
  A.on("strategies", (data, kind) => {
    if (kind === "snapshot") { strategies.clear(); (data || []).forEach((x) => strategies.set(x.name, x)); }
    else if (data && data.name) strategies.set(data.name, data);
  });
  A.on("ai_state", (view) => {
    const list = (view && view.state && view.state.exit_plans) || [];
    plans = new Map(list.map((p) => [p.vt_symbol + "|" + p.direction, p]));
    renderPositions();
  });
  A.subscribe(["positions", "orders", "strategies", "ai_state"]);
  $("#active-only").onchange = renderOrders;
  A.onLang(() => { renderPositions(); renderOrders(); });
  A.onTradeGate(() => { renderPositions(); renderOrders(); });
})();
