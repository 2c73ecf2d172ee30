/* Market page: the main contract's live quote and intraday chart (history from the tick stream, then live ticks). */
"use strict";
(function () {
  const A = window.ARBIG, $ = A.$;
  const MAX_POINTS = 20000;
  let symbol = document.body.dataset.main, topic = null, points = [], chartDay = null, chart = null, lastTick = null;
  const registered = new Set();

  function set(id, text, cls) { const el = $("#" + id); el.textContent = text; if (cls !== undefined) el.className = cls; }
  function renderTick(tk) {
    lastTick = tk;
    if (!tk) { set("m-last", A.t("no_tick")); return; }
    const chg = tk.pre_settlement ? tk.last_price - tk.pre_settlement : null;
    const cls = "chg " + A.pnlClass(chg);
    set("m-symbol", tk.symbol);
    set("m-last", A.num(tk.last_price), "last " + A.pnlClass(chg));
    set("m-chg", A.signed(chg), cls);
    set("m-chg-pct", chg === null ? A.t("none") : A.signed((chg / tk.pre_settlement) * 100) + "%", cls);
    set("m-bid", A.num(tk.bid_price_1)); set("m-bid-vol", A.num(tk.bid_volume_1, 0));
    set("m-ask", A.num(tk.ask_price_1)); set("m-ask-vol", A.num(tk.ask_volume_1, 0));
    set("m-volume", A.num(tk.volume, 0)); set("m-oi", A.num(tk.open_interest, 0));
    set("m-open", A.num(tk.open_price)); set("m-high", A.num(tk.high_price)); set("m-low", A.num(tk.low_price));
    set("m-pre-settle", A.num(tk.pre_settlement)); set("m-pre-close", A.num(tk.pre_close));
    set("m-limit-up", A.num(tk.limit_up)); set("m-limit-down", A.num(tk.limit_down));
    set("m-day", tk.trading_day); set("m-time", A.fmtDateTime(tk.ts_ms, true));
  }
  const redraw = A.throttled(() => A.setData(chart, points), 300);
  function addPoint(tk) {
    if (!tk || !(tk.last_price > 0)) return;
    const last = points[points.length - 1];
    if (last && tk.ts_ms <= last[0]) return;               // older than what the chart has
    if (last && chartDay !== tk.trading_day) points = [];   // a new trading day starts a new chart
    chartDay = tk.trading_day;
    points.push([tk.ts_ms, tk.last_price]);
    if (points.length > MAX_POINTS) points.shift();
    redraw();
  }
  async function loadHistory() {
    const res = await A.api("GET", "/api/market/ticks?symbol=" + encodeURIComponent(symbol));
    if (res.status !== 200) return;
    const live = points.filter((p) => !res.body.points.length || p[0] > res.body.points[res.body.points.length - 1][0]);
    points = res.body.points.map((p) => [p[0], p[1]]).concat(live);
    chartDay = res.body.trading_day;
    A.setData(chart, points);
  }
  function follow(next) {
    if (topic) A.unsubscribe([topic]);
    symbol = next; topic = "tick:" + symbol; points = [];
    if (!registered.has(topic)) { registered.add(topic); A.on(topic, onTick); }
    A.subscribe([topic]);
    loadHistory();
  }
  function onTick(tk) { if (tk && tk.symbol !== symbol) return; renderTick(tk); addPoint(tk); }

  chart = A.lineChart($("#m-chart"), "last", { digits: 2, axisDigits: 2 });
  A.on("heartbeat", (st) => { if (st.main_contract && st.main_contract !== symbol) follow(st.main_contract); });
  follow(symbol);
  A.onLang(() => renderTick(lastTick));
  // after a reconnect the server sends a fresh snapshot; reload the history too so the chart has no gap
  let wasOpen = false;
  setInterval(() => { const open = A.state.ws === "open"; if (open && !wasOpen && points.length) loadHistory(); wasOpen = open; }, 500);
})();
