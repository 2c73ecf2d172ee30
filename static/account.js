/* Account page: balances with live unrealized PnL, equity curve from snapshots (range choice) plus the live point. */
"use strict";
(function () {
  const A = window.ARBIG, $ = A.$;
  let chart = null, history = [], live = null, range = "today", account = null;

  function set(id, v, pnl) {
    const el = $("#" + id);
    el.textContent = pnl ? A.signed(v) : A.num(v);
    el.className = "num" + (pnl ? " " + A.pnlClass(v) : "");
  }
  function render(a) {
    account = a;
    $("#a-empty").classList.toggle("hidden", !!a);
    if (!a) return;
    $("#a-id").textContent = a.gateway + " · " + a.accountid;
    set("a-live-balance", a.live_balance); set("a-balance", a.balance); set("a-available", a.available);
    set("a-margin", a.margin); set("a-frozen", a.frozen); set("a-realized", a.realized_pnl, true);
    set("a-live-unrealized", a.live_unrealized_pnl, true); set("a-unrealized", a.unrealized_pnl, true);
    set("a-commission", a.commission); set("a-pre-balance", a.pre_balance);
    $("#a-day").textContent = a.trading_day || A.t("none");
    live = [A.serverNow(), a.live_balance];
    redraw();
  }
  const redraw = A.throttled(() => {
    const data = history.slice();
    if (live && (!data.length || live[0] > data[data.length - 1][0])) data.push(live);
    A.setData(chart, data);
  }, 500);
  async function load(next) {
    range = next;
    document.querySelectorAll("#ranges button").forEach((b) => { b.className = b.dataset.range === range ? "primary" : ""; });
    const res = await A.api("GET", "/api/account/equity?range=" + range);
    if (res.status !== 200) return;
    history = res.body.points.map((p) => [p[0], p[1]]);
    redraw();
  }

  chart = A.lineChart($("#a-chart"), "equity", { digits: 2, axisDigits: 0 });
  document.querySelectorAll("#ranges button").forEach((b) => { b.onclick = () => load(b.dataset.range); });
  A.on("account", render);
  A.subscribe(["account"]);
  A.onLang(() => render(account));
  load("today");
})();
