/* Market page: the main contract's live quote, book (five levels when the gateway sends them), 1-minute candles
   with volume (GET /api/bars, then the live ticks continue the last candle) and the intraday line (tick history,
   then live ticks). The candle rules are web_service/bars.py's: a bar's volume is the sum of the differences of
   the cumulative tick volume; a new trading day restarts it; a tick older than the last one is ignored. */
"use strict";
(function () {
  const A = window.ARBIG, $ = A.$;
  const MAX_POINTS = 20000, BAR_MINUTES = 240, MAX_BARS = 1440, LEVELS = [1, 2, 3, 4, 5];
  let symbol = document.body.dataset.main, topic = null, points = [], chartDay = null, chart = null, lastTick = null;
  let candles = null, bars = [], base = null, barsLoading = false, barsSeq = 0, heldTicks = [];
  const registered = new Set();

  function set(id, text, cls) { const el = $("#" + id); el.textContent = text; if (cls !== undefined) el.className = cls; }
  /* Level 1 always; levels 2..5 only when the tick has a price there (0 = the gateway sent no such level). */
  function renderBook(tk) {
    for (const n of LEVELS) {
      for (const side of ["bid", "ask"]) {
        const price = tk ? Number(tk[side + "_price_" + n] || 0) : 0;
        $("#m-" + side + "-row-" + n).classList.toggle("hidden", n > 1 && !(price > 0));
        set("m-" + side + "-" + n, price > 0 || n === 1 ? A.num(tk && tk[side + "_price_" + n]) : A.t("none"));
        set("m-" + side + "-vol-" + n, price > 0 || n === 1 ? A.num(tk && tk[side + "_volume_" + n], 0) : A.t("none"));
      }
    }
  }
  function renderTick(tk) {
    lastTick = tk;
    if (!tk) { set("m-last", A.t("no_tick")); renderBook(null); return; }
    const chg = tk.pre_settlement ? tk.last_price - tk.pre_settlement : null;
    const cls = "chg " + A.pnlClass(chg);
    set("m-symbol", tk.symbol);
    set("m-last", A.num(tk.last_price), "last " + A.pnlClass(chg));
    set("m-chg", A.signed(chg), cls);
    set("m-chg-pct", chg === null ? A.t("none") : A.signed((chg / tk.pre_settlement) * 100) + "%", cls);
    renderBook(tk);
    set("m-volume", A.num(tk.volume, 0)); set("m-oi", A.num(tk.open_interest, 0));
    set("m-open", A.num(tk.open_price)); set("m-high", A.num(tk.high_price)); set("m-low", A.num(tk.low_price));
    set("m-pre-settle", A.num(tk.pre_settlement)); set("m-pre-close", A.num(tk.pre_close));
    set("m-limit-up", A.num(tk.limit_up)); set("m-limit-down", A.num(tk.limit_down));
    set("m-day", tk.trading_day); set("m-time", A.fmtDateTime(tk.ts_ms, true));
  }

  /* ---------------------------------------------------------------- intraday line */
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

  /* ---------------------------------------------------------------- 1-minute candles */
  const redrawCandles = A.throttled(() => A.setCandles(candles, bars), 300);
  function candleNote(text) { $("#m-candle-note").textContent = text; }
  function addBar(tk) {
    if (!tk || !(tk.last_price > 0)) return;
    if (barsLoading) { heldTicks.push(tk); return; }
    if (base && tk.ts_ms < base.ts_ms) return;
    const step = !base ? 0 : tk.trading_day !== base.trading_day ? tk.volume : Math.max(tk.volume - base.volume, 0);
    base = { ts_ms: tk.ts_ms, volume: tk.volume, trading_day: tk.trading_day };
    const minute = tk.ts_ms - (tk.ts_ms % 60000), p = tk.last_price, last = bars[bars.length - 1];
    if (last && minute <= last[0]) {
      last[2] = Math.max(last[2], p); last[3] = Math.min(last[3], p); last[4] = p; last[5] += step;
    } else {
      bars.push([minute, p, p, p, p, step]);
      if (bars.length > MAX_BARS) bars.shift();
    }
    candleNote(A.t("candles_note", { n: BAR_MINUTES }));
    redrawCandles();
  }
  async function loadBars() {
    const seq = ++barsSeq;
    barsLoading = true; heldTicks = [];
    const res = await A.api("GET", "/api/bars?" + new URLSearchParams({ symbol, minutes: String(BAR_MINUTES) }));
    if (seq !== barsSeq) return;   // a newer load (another contract, a reconnect) took over
    barsLoading = false;
    if (res.status === 200 && res.body.symbol === symbol) {
      bars = res.body.bars.map((b) => b.slice());
      base = res.body.last_tick;
    }
    const held = heldTicks; heldTicks = [];
    held.forEach(addBar);
    candleNote(res.status !== 200 ? A.refusalText(res.body) : bars.length ? A.t("candles_note", { n: BAR_MINUTES }) : A.t("candles_none"));
    A.setCandles(candles, bars);
  }

  function follow(next) {
    if (topic) A.unsubscribe([topic]);
    symbol = next; topic = "tick:" + symbol; points = []; bars = []; base = null;
    if (!registered.has(topic)) { registered.add(topic); A.on(topic, onTick); }
    A.subscribe([topic]);
    loadHistory();
    loadBars();
  }
  function onTick(tk) { if (tk && tk.symbol !== symbol) return; renderTick(tk); addPoint(tk); addBar(tk); }

  /* ---------------------------------------------------------------- chart tabs (the choice is remembered) */
  function showChart(which) {
    const isLine = which === "line";
    $("#m-chart").classList.toggle("hidden", !isLine); $("#m-candles").classList.toggle("hidden", isLine);
    $("#m-tab-line").classList.toggle("active", isLine); $("#m-tab-candles").classList.toggle("active", !isLine);
    localStorage.setItem("arbig.marketChart", isLine ? "line" : "candles");
    (isLine ? chart : candles).resize();
  }

  chart = A.lineChart($("#m-chart"), "last", { digits: 2, axisDigits: 2 });
  candles = A.candleChart($("#m-candles"), { digits: 2, axisDigits: 2 });
  $("#m-tab-line").onclick = () => showChart("line");
  $("#m-tab-candles").onclick = () => showChart("candles");
  showChart(localStorage.getItem("arbig.marketChart") === "line" ? "line" : "candles");
  A.on("heartbeat", (st) => { if (st.main_contract && st.main_contract !== symbol) follow(st.main_contract); });
  follow(symbol);
  A.onLang(() => { renderTick(lastTick); if (bars.length) candleNote(A.t("candles_note", { n: BAR_MINUTES })); A.setCandles(candles, bars); });
  // after a reconnect the server sends a fresh snapshot; reload the history too so the charts have no gap
  let wasOpen = false;
  setInterval(() => {
    const open = A.state.ws === "open";
    if (open && !wasOpen && (points.length || bars.length)) { loadHistory(); loadBars(); }
    wasOpen = open;
  }, 500);
})();
