/* ECharts helpers shared by the market and account pages: a dark line chart on a time axis in Asia/Shanghai,
   and the market page's 1-minute candles with volume. */
"use strict";
(function () {
  const A = window.ARBIG;
  /* A little room above and below the data; a flat line gets a visible band instead of ±50 %. */
  function pad(r) { return Math.max((r.max - r.min) * 0.05, Math.abs(r.max) * 0.0002, 0.01); }
  function lineChart(el, name, opts) {
    const chart = echarts.init(el, null, { renderer: "canvas" });
    chart.longSpan = false;
    chart.setOption({
      backgroundColor: "transparent", animation: false,
      grid: { left: 70, right: 20, top: 20, bottom: 50 },
      tooltip: { trigger: "axis", valueFormatter: (v) => A.num(v, opts && opts.digits),
        axisPointer: { label: { formatter: (p) => p.axisDimension === "x" ? A.fmtDateTime(p.value) : A.num(p.value, opts && opts.digits) } } },
      xAxis: { type: "time", axisLine: { lineStyle: { color: "#2a323d" } },
        axisLabel: { color: "#8b96a3", hideOverlap: true, formatter: (v) => (chart.longSpan ? A.fmtDateTime(v).slice(5, 16) : A.fmtTime(v)) },
        splitLine: { show: false } },
      yAxis: { type: "value", scale: true, min: (r) => r.min - pad(r), max: (r) => r.max + pad(r),
        axisLabel: { color: "#8b96a3", formatter: (v) => A.num(v, opts && opts.axisDigits) },
        splitLine: { lineStyle: { color: "#1f262f" } } },
      dataZoom: [{ type: "inside" }, { type: "slider", height: 18, bottom: 8, borderColor: "#2a323d", textStyle: { color: "#8b96a3" } }],
      series: [{ name, type: "line", showSymbol: false, sampling: "lttb", lineStyle: { width: 1.4, color: "#4ea1ff" },
        areaStyle: { color: "rgba(78,161,255,0.08)" }, data: [] }],
    });
    window.addEventListener("resize", () => chart.resize());
    return chart;
  }
  /* Re-render at most every `ms` milliseconds, however often data arrives. */
  function throttled(fn, ms) {
    let pending = false;
    return () => { if (pending) return; pending = true; setTimeout(() => { pending = false; fn(); }, ms); };
  }
  /* Replace the series; time labels show dates once the data spans more than a day. */
  function setData(chart, data) {
    chart.longSpan = data.length > 1 && data[data.length - 1][0] - data[0][0] > 86400000;
    chart.setOption({ series: [{ data }] });
  }

  /* Candles + volume (the market page): bars are rows [ts_ms, open, high, low, close, volume], one per minute,
     on a category axis (a break between sessions takes no room). Red up, green down (Chinese convention). */
  const UP = "#f0494e", DOWN = "#1fbf75", VISIBLE_BARS = 120;
  function candleLabel(chart, v) {
    const ms = Number(v);
    return chart.longSpan ? A.fmtDateTime(ms).slice(5, 16) : A.fmtTime(ms).slice(0, 5);
  }
  function candleTip(chart, params, digits) {
    const bar = chart.bars[params[0].dataIndex];
    if (!bar) return "";
    const row = (k, v, d) => "<div>" + A.esc(A.t(k)) + " <b class='mono'>" + A.esc(A.num(v, d)) + "</b></div>";
    return "<div class='mono'>" + A.esc(A.fmtDateTime(bar[0]).slice(0, 16)) + "</div>" + row("open", bar[1], digits)
      + row("high", bar[2], digits) + row("low", bar[3], digits) + row("close_l", bar[4], digits) + row("volume_l", bar[5], 0);
  }
  function candleChart(el, opts) {
    const digits = opts && opts.digits;
    const chart = echarts.init(el, null, { renderer: "canvas" });
    const axisLine = { lineStyle: { color: "#2a323d" } }, label = { color: "#8b96a3" };
    chart.bars = []; chart.longSpan = false; chart.zoomed = false;
    chart.setOption({
      backgroundColor: "transparent", animation: false,
      axisPointer: { link: [{ xAxisIndex: "all" }] },
      tooltip: { trigger: "axis", axisPointer: { type: "cross", label: { formatter: (p) =>
        p.axisDimension === "x" ? candleLabel(chart, p.value) : A.num(p.value, p.axisIndex === 1 ? 0 : digits) } },
        formatter: (ps) => candleTip(chart, ps, digits) },
      grid: [{ left: 70, right: 20, top: 16, height: "58%" }, { left: 70, right: 20, top: "74%", bottom: 40 }],
      xAxis: [
        { type: "category", data: [], axisLine, axisLabel: { ...label, hideOverlap: true, formatter: (v) => candleLabel(chart, v) },
          splitLine: { show: false } },
        { type: "category", gridIndex: 1, data: [], axisLine, axisLabel: { show: false }, axisTick: { show: false } },
      ],
      yAxis: [
        { type: "value", scale: true, axisLabel: { ...label, formatter: (v) => A.num(v, opts && opts.axisDigits) },
          splitLine: { lineStyle: { color: "#1f262f" } } },
        { type: "value", gridIndex: 1, scale: false, splitNumber: 2, axisLabel: { ...label, formatter: (v) => A.num(v, 0) },
          splitLine: { show: false } },
      ],
      dataZoom: [{ type: "inside", xAxisIndex: [0, 1] },
        { type: "slider", xAxisIndex: [0, 1], height: 16, bottom: 6, borderColor: "#2a323d", textStyle: { color: "#8b96a3" } }],
      series: [
        { name: "1m", type: "candlestick", data: [], barMaxWidth: 14,
          itemStyle: { color: UP, color0: DOWN, borderColor: UP, borderColor0: DOWN } },
        { name: "volume", type: "bar", xAxisIndex: 1, yAxisIndex: 1, data: [], barMaxWidth: 14 },
      ],
    });
    window.addEventListener("resize", () => chart.resize());
    return chart;
  }
  /* Replace the bars; the first time data arrives the view zooms to the last VISIBLE_BARS minutes. */
  function setCandles(chart, bars) {
    chart.bars = bars;
    chart.longSpan = bars.length > 1 && bars[bars.length - 1][0] - bars[0][0] > 86400000;
    const times = bars.map((b) => String(b[0]));
    const option = {
      xAxis: [{ data: times }, { data: times }],
      series: [{ data: bars.map((b) => [b[1], b[4], b[3], b[2]]) },
        { data: bars.map((b) => ({ value: b[5], itemStyle: { color: b[4] >= b[1] ? UP : DOWN, opacity: 0.7 } })) }],
    };
    if (!chart.zoomed && bars.length) {
      const start = bars.length > VISIBLE_BARS ? 100 - (VISIBLE_BARS / bars.length) * 100 : 0;
      option.dataZoom = [{ start, end: 100 }, { start, end: 100 }];
      chart.zoomed = true;
    }
    chart.setOption(option);
  }
  A.lineChart = lineChart;
  A.setData = setData;
  A.throttled = throttled;
  A.candleChart = candleChart;
  A.setCandles = setCandles;
})();
