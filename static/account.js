/* Account page: every figure the broker states (balance, available, margin, frozen, commission, close and
   position profit, pre-balance, deposit/withdraw, trading day) beside the live equity and position profit, and
   how fresh it is; equity curve from snapshots (range choice) plus the live point, and performance figures for
   the same range (re-read when a fill arrives). */
"use strict";
(function () {
  const A = window.ARBIG, $ = A.$;
  let chart = null, history = [], live = null, range = "today", account = null;

  function set(id, v, pnl) {
    const el = $("#" + id);
    el.textContent = pnl ? A.signed(v) : A.num(v);
    el.className = "num" + (pnl ? " " + A.pnlClass(v) : "");
  }
  /* [element id, field, signed PnL?]: every figure the broker states, plus the live ones computed from ticks. */
  const FIGURES = [
    ["a-static-balance", "static_balance"], ["a-live-balance", "live_balance"], ["a-balance", "balance"],
    ["a-available", "available"], ["a-margin", "margin"], ["a-frozen-margin", "frozen_margin"],
    ["a-frozen-commission", "frozen_commission"], ["a-frozen-cash", "frozen_cash"], ["a-frozen", "frozen"],
    ["a-commission", "commission"], ["a-realized", "realized_pnl", true], ["a-unrealized", "unrealized_pnl", true],
    ["a-live-unrealized", "live_unrealized_pnl", true], ["a-pre-balance", "pre_balance"], ["a-deposit", "deposit"],
    ["a-withdraw", "withdraw"], ["a-withdraw-quota", "withdraw_quota"],
  ];
  const OLD_ACCOUNT_S = 60;  // the gateway reports the account every few seconds (CTP's query cycle ~4 s)
  function render(a) {
    account = a;
    $("#a-empty").classList.toggle("hidden", !!a);
    if (!a) return;
    $("#a-id").textContent = a.gateway + " · " + a.accountid;
    FIGURES.forEach(([id, field, pnl]) => set(id, a[field], pnl));
    $("#a-day").textContent = a.trading_day || A.t("none");
    renderAge();
    live = [A.serverNow(), a.live_balance];
    redraw();
  }
  /* How fresh the account is: the time the core stamped it and its age (ticks every second). */
  function renderAge() {
    const el = $("#a-updated");
    if (!account || !account.ts_ms) { el.textContent = A.t("none"); return; }
    const age = Math.max(0, (A.serverNow() - account.ts_ms) / 1000);
    el.textContent = A.t("acc_age", { t: A.fmtTime(account.ts_ms), age: A.ageText(age) });
    el.className = "text mono" + (age > OLD_ACCOUNT_S ? " warn" : "");
    el.title = age > OLD_ACCOUNT_S ? A.t("acc_old", { age: A.ageText(age) }) : A.fmtDateTime(account.ts_ms, true);
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
  function choose(next) { load(next); loadPerf(); }

  /* ---------------------------------------------------------------- performance (same range as the chart) */
  let perf = null, perfTimer = null;
  function pct(v) {
    if (v === null || v === undefined) return A.t("none");
    return v > 0 && v < 0.0001 ? "<0.01%" : (v * 100).toFixed(2) + "%";
  }
  function ratio(v) { return v === null || v === undefined ? A.t("none") : Number(v).toFixed(2); }
  function duration(s) { return s === null || s === undefined ? A.t("none") : A.ageText(s); }
  function note(cls, text) { return '<div class="msg ' + cls + '">' + A.esc(text) + "</div>"; }
  function renderPerf() {
    if (!perf) return;
    const tr = perf.trades, eq = perf.equity, dd = eq.drawdown, ra = eq.ratios;
    $("#p-closed").textContent = tr.closed_trades + " (" + A.t("p_wins_losses", { w: tr.wins, l: tr.losses }) + ")";
    $("#p-win-rate").textContent = pct(tr.win_rate);
    set("p-net", tr.net_pnl, true); set("p-commission", eq.commission);
    $("#p-profit-factor").textContent = ratio(tr.profit_factor);
    set("p-expectancy", tr.expectancy, true); set("p-avg-win", tr.avg_win, true); set("p-avg-loss", tr.avg_loss, true);
    set("p-best", tr.best, true); set("p-worst", tr.worst, true);
    $("#p-holding").textContent = duration(tr.avg_holding_s);
    $("#p-drawdown").textContent = dd.amount ? A.num(dd.amount) + " (" + pct(dd.pct) + ")" : A.num(0);
    $("#p-dd-when").textContent = dd.peak_ts ? A.fmtDateTime(dd.peak_ts) + " → " + A.fmtDateTime(dd.trough_ts) : A.t("none");
    const few = ra.returns < 2 ? " (" + A.t("p_needs_days") + ")" : "";
    $("#p-sharpe").textContent = ratio(ra.sharpe) + few;
    $("#p-sortino").textContent = ratio(ra.sortino) + few;
    $("#p-days").textContent = String(ra.days);
    const by = Object.entries(perf.by_strategy || {});
    $("#p-by-wrap").classList.toggle("hidden", by.length === 0);
    $("#p-by").innerHTML = by.map(([name, s]) => "<tr><td class='mono'>" + A.esc(name === "(manual)" ? A.t("p_manual") : name)
      + "</td><td class='num'>" + s.closed_trades + "</td><td class='num'>" + pct(s.win_rate) + "</td><td class='num "
      + A.pnlClass(s.net_pnl) + "'>" + A.signed(s.net_pnl) + "</td><td class='num'>" + ratio(s.profit_factor)
      + "</td><td class='num'>" + A.signed(s.expectancy) + "</td></tr>").join("");
    const lots = Object.entries(perf.open_lots).map(([k, v]) => k + " " + v).join(", ");
    $("#p-notes").innerHTML = (perf.unmatched_close_volume ? note("warn", A.t("p_unmatched", { v: perf.unmatched_close_volume })) : "")
      + (perf.fills_truncated ? note("warn", A.t("p_truncated", { n: perf.fills_considered })) : "")
      + (lots ? '<div class="muted">' + A.esc(A.t("p_open_lots", { lots })) + "</div>" : "");
    renderLedger(perf.ledger || []);
  }
  /* The daily check against the broker: a difference above one tick value is a warning here. */
  function renderLedger(rows) {
    const money = (v) => (v === null || v === undefined ? "—" : A.num(v, 2));
    $("#ledger-wrap").classList.toggle("hidden", rows.length === 0);
    $("#ledger").innerHTML = rows.map((r) => "<tr data-day='" + A.esc(r.trading_day) + "' class='" + (r.verdict === "mismatch" ? "bad" : "")
      + "'><td class='mono'>" + A.esc(r.trading_day) + "</td><td class='num'>" + money(r.realized_pnl) + "</td><td class='num'>"
      + money(r.broker_realized_pnl) + "</td><td class='num'>" + money(r.pnl_diff) + "</td><td class='num'>" + money(r.commission)
      + "</td><td class='num'>" + money(r.broker_commission) + "</td><td title='" + A.esc(r.note || "") + "'>"
      + A.esc(A.t("l_" + r.verdict)) + "</td></tr>").join("");
    const bad = rows.filter((r) => r.verdict === "mismatch");
    $("#ledger-warn").innerHTML = bad.length ? note("bad", A.t("l_warn", { days: bad.map((r) => r.trading_day).join(", ") })) : "";
  }
  async function loadPerf() {
    const asked = range;
    $("#p-as-of").textContent = "…";
    const res = await A.api("GET", "/api/performance?range=" + asked);
    if (asked !== range) return;  // the operator chose another range meanwhile
    if (res.status !== 200) {
      $("#p-notes").innerHTML = note("bad", A.t("p_failed", { reason: A.refusalText(res.body) }));
      return;
    }
    perf = res.body;
    $("#perf").dataset.range = asked;
    $("#p-as-of").textContent = A.fmtTime(A.serverNow());
    // ranges count on the market's clock (a replayed day is its own "today"): say which day and time
    $("#p-market").textContent = perf.trading_day + " " + A.fmtTime(perf.as_of_ms);
    renderPerf();
  }
  function perfSoon() { clearTimeout(perfTimer); perfTimer = setTimeout(loadPerf, 1000); }  // a burst of fills: one read

  chart = A.lineChart($("#a-chart"), "equity", { digits: 2, axisDigits: 0 });
  document.querySelectorAll("#ranges button").forEach((b) => { b.onclick = () => choose(b.dataset.range); });
  $("#p-refresh").onclick = loadPerf;
  A.on("account", render);
  A.on("trades", (data, kind) => { if (kind === "update") perfSoon(); });
  A.subscribe(["account", "trades"]);
  A.onLang(() => { render(account); renderPerf(); });
  setInterval(renderAge, 1000);
  choose("today");
})();
