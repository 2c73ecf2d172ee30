/* Trades page: history from MySQL with trading-day or time range, contract and direction filters,
   keyset pagination and CSV export; new trades are added live on page 1. */
"use strict";
(function () {
  const A = window.ARBIG, $ = A.$;
  let pageSize = 50;

  function query() {
    const q = new URLSearchParams();
    const mode = $("#f-mode").value, from = $("#f-from").value, to = $("#f-to").value;
    if (mode === "day") { if (from) q.set("day_from", from); if (to) q.set("day_to", to); }
    else {   // dates typed in Asia/Shanghai; "to" is inclusive of that whole day
      if (from) q.set("time_from", from + "T00:00:00+08:00");
      if (to) { const d = new Date(to + "T00:00:00+08:00"); d.setUTCDate(d.getUTCDate() + 1); q.set("time_to", d.toISOString()); }
    }
    const symbol = $("#f-symbol").value.trim();
    if (symbol) q.set("symbol", symbol);
    if ($("#f-direction").value) q.set("direction", $("#f-direction").value);
    return q;
  }
  function row(r) {
    return "<tr><td class='mono'>" + A.esc(A.fmtDateTime(r.ts_ms, true)) + "</td><td class='mono'>" + A.esc(r.trading_day) + "</td><td class='mono'>" + A.esc(r.symbol)
      + "</td><td class='" + (r.direction === "LONG" ? "up" : "down") + "'>" + A.esc(r.direction) + "</td><td>" + A.esc(r.offset) + "</td><td class='num'>" + A.num(r.price)
      + "</td><td class='num'>" + A.num(r.volume, 0) + "</td><td class='mono'>" + A.esc(r.tradeid) + "</td><td class='mono'>" + A.esc(r.orderid)
      + "</td><td>" + A.esc(r.strategy || "") + "</td></tr>";
  }
  function render(items, res) {
    const tbody = $("#trades");
    $("#f-error").innerHTML = items ? "" : '<div class="msg bad">' + A.esc(A.refusalText(res.body)) + "</div>";
    if (!items) { tbody.innerHTML = ""; return; }
    tbody.innerHTML = items.length ? items.map(row).join("") : "<tr><td colspan=10 class='empty'>" + A.esc(A.t("no_trades")) + "</td></tr>";
  }
  const pager = A.Pager((cursor) => {
    const q = query(); q.set("page_size", String(pageSize));
    if (cursor) q.set("cursor", cursor);
    return A.api("GET", "/api/trades?" + q);
  }, render, { newer: $("#t-newer"), older: $("#t-older"), label: $("#t-page") });

  function matches(r) {
    const q = query();
    if (q.get("symbol") && q.get("symbol") !== r.symbol) return false;
    if (q.get("direction") && q.get("direction") !== r.direction) return false;
    if (q.get("day_to") && r.trading_day > q.get("day_to")) return false;
    if (q.get("day_from") && r.trading_day < q.get("day_from")) return false;
    if (q.get("time_to") && r.ts_ms >= Date.parse(q.get("time_to"))) return false;
    if (q.get("time_from") && r.ts_ms < Date.parse(q.get("time_from"))) return false;
    return true;
  }
  function onTrade(r, kind) {
    if (kind === "snapshot" || !pager.onFirstPage() || !matches(r)) return;
    const tbody = $("#trades"), empty = tbody.querySelector(".empty");
    if (empty) tbody.innerHTML = "";
    tbody.insertAdjacentHTML("afterbegin", row(r).replace("<tr>", "<tr class='flash'>"));
    while (tbody.rows.length > pageSize) tbody.deleteRow(-1);
  }
  function search(ev) {
    if (ev) ev.preventDefault();
    pageSize = Number($("#f-size").value);
    $("#f-csv").href = "/api/trades.csv?" + query();
    pager.reset();
  }

  $("#f").onsubmit = search;
  A.on("trades", onTrade);
  A.subscribe(["trades"]);
  search();
})();
