/* Strategy page, trigger statistics (GET /api/triggers/stats): per strategy and trading day the signals by
   action and result (success / failed / pending / refused), pos syncs apart, the fill ratio and the average
   slippage against the trigger price; a table (with a total per strategy) and a chart (stacked result bars per
   day, fill ratio and slippage lines). Read when the page opens, every minute, and shortly after a trigger
   event (WS topic `triggers`). */
"use strict";
(function () {
  const A = window.ARBIG, $ = A.$, t = A.t, esc = A.esc;
  const ACTIONS = ["buy", "sell", "short", "cover"];
  const RESULTS = ["success", "failed", "pending", "refused"];
  const COLORS = { success: "#1fbf75", failed: "#f0494e", pending: "#f0b429", refused: "#8b96a3" };
  const AXIS = { axisLine: { lineStyle: { color: "#2a323d" } }, axisLabel: { color: "#8b96a3" } };
  const REFRESH_MS = 60000, EVENT_DELAY_MS = 1500, COLS = 16;
  const names = new Set();
  let data = null, chart = null, loading = false, again = false, eventTimer = null, updatedMs = null;

  /* ---------------------------------------------------------------- table */
  function otherActions(actions) {
    return Object.entries(actions || {}).reduce((n, [k, v]) => (ACTIONS.includes(k) ? n : n + v), 0);
  }
  function countCell(n, cls) { return "<td class='num " + (n ? cls || "" : "muted") + "'>" + A.num(n || 0, 0) + "</td>"; }
  function fillCell(s) {
    if (s.fill_ratio === null) return "<td class='num muted tst-fill'>" + esc(t("none")) + "</td>";
    const title = t("tst_fill_title", { filled: A.num(s.filled_volume, 0), requested: A.num(s.requested_volume, 0) });
    return "<td class='num tst-fill' title='" + esc(title) + "'>" + A.num(s.fill_ratio * 100, 1) + "% <span class='muted'>"
      + A.num(s.filled_volume, 0) + "/" + A.num(s.requested_volume, 0) + "</span></td>";
  }
  function slipCell(s) {
    if (s.slippage === null) return "<td class='num muted tst-slip'>" + esc(t("none")) + "</td>";
    const cls = s.slippage > 0 ? "bad" : s.slippage < 0 ? "ok" : "";
    return "<td class='num tst-slip " + cls + "' title='" + esc(t("tst_slip_title", { n: s.filled_signals })) + "'>"
      + A.signed(s.slippage, 4) + " <span class='muted'>/</span> " + A.signed(s.slippage_ticks, 2) + " " + esc(t("tst_ticks")) + "</td>";
  }
  function cells(s) {
    return countCell(s.signals) + ACTIONS.map((a) => countCell(s.actions[a])).join("") + countCell(otherActions(s.actions))
      + countCell(s.results.success, "ok") + countCell(s.results.failed, "bad") + countCell(s.results.pending, "warn")
      + countCell(s.results.refused, "bad") + countCell(s.pos_sync) + fillCell(s) + slipCell(s) + countCell(s.unlinked, "warn");
  }
  function row(s) {
    return "<tr data-strategy='" + esc(s.strategy) + "' data-day='" + esc(s.trading_day) + "'><td class='mono'>" + esc(s.trading_day)
      + "</td><td class='mono'>" + esc(s.strategy) + "</td>" + cells(s) + "</tr>";
  }
  function totalRow(s) {
    return "<tr class='tst-total' data-strategy='" + esc(s.strategy) + "'><td>" + esc(t("tst_total")) + " <span class='muted mono'>"
      + esc(data.day_from) + " ~ " + esc(data.day_to) + "</span></td><td class='mono'>" + esc(s.strategy) + "</td>" + cells(s) + "</tr>";
  }
  function renderTable() {
    $("#tst-body").innerHTML = data.rows.length ? data.rows.map(row).join("")
      : "<tr><td colspan=" + COLS + " class='empty'>" + esc(t("tst_none")) + "</td></tr>";
    $("#tst-foot").innerHTML = data.rows.length ? data.by_strategy.map(totalRow).join("") : "";
  }

  /* ---------------------------------------------------------------- chart */
  function ensureChart() {
    if (!chart) {
      chart = echarts.init($("#tst-chart"), null, { renderer: "canvas" });
      window.addEventListener("resize", () => chart.resize());
    }
    return chart;
  }
  function renderChart() {
    const days = data.by_day;
    const line = (name, axis, color, values) => ({ name, type: "line", yAxisIndex: axis, connectNulls: true, symbolSize: 6,
      lineStyle: { width: 1.6, color }, itemStyle: { color }, data: values });
    ensureChart().setOption({
      backgroundColor: "transparent", animation: false,
      legend: { top: 0, textStyle: { color: "#8b96a3" } },
      grid: { left: 50, right: 110, top: 36, bottom: 28 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: days.map((d) => d.trading_day), ...AXIS },
      yAxis: [
        { type: "value", name: t("tst_count"), minInterval: 1, ...AXIS, splitLine: { lineStyle: { color: "#1f262f" } } },
        { type: "value", name: t("tst_fill_ratio"), min: 0, max: 100, ...AXIS, axisLabel: { color: "#8b96a3", formatter: "{value}%" }, splitLine: { show: false } },
        { type: "value", name: t("tst_slip_ticks"), position: "right", offset: 55, ...AXIS, splitLine: { show: false } },
      ],
      series: RESULTS.map((r) => ({ name: t("tst_r_" + r), type: "bar", stack: "results", barMaxWidth: 36,
        itemStyle: { color: COLORS[r] }, data: days.map((d) => d.results[r] || 0) })).concat([
        line(t("tst_fill_ratio"), 1, "#4ea1ff", days.map((d) => (d.fill_ratio === null ? null : Math.round(d.fill_ratio * 1000) / 10))),
        line(t("tst_slip_ticks"), 2, "#c586ff", days.map((d) => d.slippage_ticks)),
      ]),
    }, true);
  }

  /* ---------------------------------------------------------------- strategy filter, loading */
  function renderFilter() {
    const select = $("#tst-strategy"), keep = select.value;
    const list = Array.from(names).sort();
    const html = '<option value="">' + esc(t("all")) + "</option>" + list.map((n) => '<option value="' + esc(n) + '">' + esc(n) + "</option>").join("");
    if (select.innerHTML !== html) { select.innerHTML = html; select.value = keep; }
  }
  function render() {
    renderFilter();
    $("#tst-updated").textContent = updatedMs ? t("tst_updated", { t: A.fmtTime(updatedMs) }) : "";
    if (!data) return;
    renderTable();
    renderChart();
  }
  function showError(text) {
    const box = $("#tst-msg");
    box.textContent = text; box.classList.toggle("hidden", !text);
  }
  async function load() {
    if (loading) { again = true; return; }
    loading = true;
    const q = new URLSearchParams({ days: $("#tst-days").value });
    if ($("#tst-strategy").value) q.set("strategy", $("#tst-strategy").value);
    const res = await A.api("GET", "/api/triggers/stats?" + q);
    loading = false;
    if (res.status === 200) {
      data = res.body; updatedMs = Date.now();
      data.by_strategy.forEach((s) => names.add(s.strategy));
      showError("");
      render();
    } else {
      showError(t("tst_failed", { reason: A.refusalText(res.body) }));
    }
    if (again) { again = false; load(); }
  }
  /* A trigger (or its result) arrived: read again shortly, once for a burst of them. */
  function onTrigger(_r, kind) {
    if (kind === "snapshot") return;
    clearTimeout(eventTimer);
    eventTimer = setTimeout(load, EVENT_DELAY_MS);
  }

  A.on("triggers", onTrigger);
  A.on("strategies", (d, kind) => {
    (kind === "snapshot" ? d || [] : [d]).forEach((s) => s && s.name && names.add(s.name));
    renderFilter();
  });
  A.subscribe(["triggers"]);
  $("#tst-strategy").onchange = load;
  $("#tst-days").onchange = load;
  A.onLang(render);
  setInterval(load, REFRESH_MS);
  load();
})();
