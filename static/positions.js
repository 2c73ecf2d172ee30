/* Positions page: live positions with both prices (average open price and the broker's settlement-based cost)
   and the PnL against each, one close button per row (second confirmation showing exactly what will be sent),
   and today's orders (rejected ones with the broker's reason) with cancel. No batch close. Close and cancel are
   disabled, with the reason, while the trade gate (app.js) is closed. */
"use strict";
(function () {
  const A = window.ARBIG, $ = A.$;
  const HOLD_DISABLED_MS = 5000;
  let rows = [], orders = new Map();
  const busy = new Map(); // row key -> time the close was confirmed (button stays disabled meanwhile)

  function dirLabel(d) { return A.t(d) + " " + d; }
  /* A PnL cell: live when there is a price, else the gateway's figure marked with * (title says so). */
  function pnlCell(cls, v, live) {
    return "<td class='num " + cls + " " + A.pnlClass(v) + "'" + (live ? "" : " title='" + A.esc(A.t("pnl_core")) + "'") + ">"
      + A.signed(v) + (live ? "" : "*") + "</td>";
  }
  function rowHtml(r) {
    const live = r.pnl_source === "live", gate = A.tradeBlock();
    const disabled = busy.has(r.key) || gate ? " disabled" : "";
    return '<tr data-key="' + A.esc(r.key) + '"><td class="mono">' + A.esc(r.vt_symbol) + "</td><td class='" + (r.direction === "LONG" ? "up" : "down") + "'>"
      + A.esc(dirLabel(r.direction)) + "</td><td class='num'>" + A.num(r.volume, 0) + "</td><td class='num'>" + A.num(r.td_volume, 0) + " / " + A.num(r.yd_volume, 0)
      + "</td><td class='num'>" + A.num(r.frozen, 0) + "</td><td class='num c-price'>" + A.num(r.price, 3) + "</td>" + pnlCell("c-pnl", r.pnl, live)
      + "<td class='num c-cost'>" + A.num(r.cost_price, 3) + "</td>" + pnlCell("c-mtm", r.mtm_pnl, live)
      + "<td class='num c-last'>" + A.num(r.last_price) + "</td><td class='num'>" + A.num(r.margin)
      + "</td><td><button class='danger close-btn'" + disabled + " title='" + A.esc(gate) + "'>" + A.esc(A.t("close_btn")) + "</button></td></tr>";
  }
  function renderPositions() {
    const tbody = $("#pos-body");
    for (const [key, at] of busy) if (Date.now() - at > HOLD_DISABLED_MS && at > 0) busy.delete(key);
    const shown = Array.from(tbody.querySelectorAll("tr[data-key]"), (tr) => tr.dataset.key);
    if (rows.length && shown.join("\n") === rows.map((r) => r.key).join("\n")) {
      updateInPlace(tbody);  // same rows: touch only the cells, so a click on a button is never lost
      return;
    }
    tbody.innerHTML = rows.length ? rows.map(rowHtml).join("") : "<tr><td colspan=12 class='empty'>" + A.esc(A.t("no_positions")) + "</td></tr>";
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

  function closeParams(dlg, row) {
    const type = $("#c-type", dlg).value;
    const params = { vt_symbol: row.vt_symbol, direction: row.direction, volume: Number($("#c-volume", dlg).value), price_type: type, price: null };
    if (type === "LIMIT") params.price = Number($("#c-price", dlg).value) || null;
    return params;
  }
  function renderSummary(dlg, row, id) {
    const p = closeParams(dlg, row);
    $("#c-price", dlg).disabled = p.price_type !== "LIMIT";
    $("#c-summary", dlg).innerHTML = '<table class="summary">'
      + [["command", "position.close"], [A.t("col_contract"), p.vt_symbol], [A.t("col_direction"), dirLabel(p.direction)],
        [A.t("close_volume"), p.volume], [A.t("price_type"), A.t(p.price_type) + " " + p.price_type], [A.t("price"), p.price === null ? "—" : p.price],
        [A.t("cmd_id"), id]].map(([k, v]) => "<tr><th>" + A.esc(k) + "</th><td>" + A.esc(v) + "</td></tr>").join("") + "</table>";
    const ok = p.volume >= 1 && p.volume <= row.volume && Number.isInteger(p.volume) && (p.price_type === "MARKET" || p.price > 0);
    $("#confirm-ok").disabled = !ok;
  }
  function openClose(row) {
    if (!row) return;
    const id = A.newCommandId();  // made now: a double click or a retry re-sends this same id
    const html = '<div class="fields"><label>' + A.esc(A.t("col_contract")) + '</label><span class="mono">' + A.esc(row.vt_symbol + " " + dirLabel(row.direction)) + "</span>"
      + "<label>" + A.esc(A.t("close_volume")) + '</label><span><input id="c-volume" type="number" min="1" step="1" max="' + row.volume + '" value="' + row.volume + '"> / ' + A.num(row.volume, 0) + "</span>"
      + "<label>" + A.esc(A.t("price_type")) + '</label><select id="c-type"><option value="MARKET">' + A.esc(A.t("MARKET")) + ' MARKET</option><option value="LIMIT">' + A.esc(A.t("LIMIT")) + " LIMIT</option></select>"
      + "<label>" + A.esc(A.t("price")) + '</label><input id="c-price" type="number" step="0.02" min="0" value="' + (row.last_price || "") + '"></div>'
      + '<div class="muted">' + A.esc(A.t("will_send")) + ':</div><div id="c-summary"></div><div class="outcome"></div>';
    const dlg = A.openDialog({
      title: A.t("close_title"), danger: true, confirmText: A.t("confirm_close"), html,
      onConfirm: (d) => sendClose(d, row, id),
    });
    dlg.querySelectorAll("input, select").forEach((el) => { el.oninput = () => renderSummary(dlg, row, id); });
    renderSummary(dlg, row, id);
  }
  async function sendClose(dlg, row, id) {
    const params = closeParams(dlg, row);
    dlg.querySelectorAll(".fields input, .fields select").forEach((el) => { el.disabled = true; });
    busy.set(row.key, -1); renderPositions();
    $(".outcome", dlg).innerHTML = '<div class="msg warn">' + A.esc(A.t("waiting")) + "</div>";
    let res = await A.api("POST", "/api/commands", { id, type: "position.close", params });
    A.showOutcome(res);
    if (res.status === 503 || res.status === 0) {  // offer a retry with the same id (never runs twice)
      const retry = $("#confirm-retry");
      retry.textContent = A.t("retry"); retry.classList.remove("hidden");
      retry.onclick = async () => { retry.classList.add("hidden"); res = await A.api("POST", "/api/commands", { id, type: "position.close", params }); A.showOutcome(res); report(row, res); };
    }
    report(row, res);
  }
  function report(row, res) {
    const ok = res.status === 200;
    if (ok) busy.set(row.key, Date.now()); else busy.delete(row.key);
    $("#pos-result").innerHTML = '<div class="msg ' + (ok ? "ok" : "bad") + '">' + A.esc(row.vt_symbol + " " + row.direction + ": ")
      + A.esc(ok ? A.t("done") + " " + (res.body.reason || "") : A.detailText(res.body)) + "</div>";
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
  A.subscribe(["positions", "orders"]);
  $("#active-only").onchange = renderOrders;
  A.onLang(() => { renderPositions(); renderOrders(); });
  A.onTradeGate(() => { renderPositions(); renderOrders(); });
})();
