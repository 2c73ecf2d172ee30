/* ECharts helpers shared by the market and account pages: a dark line chart on a time axis in Asia/Shanghai. */
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
  A.lineChart = lineChart;
  A.setData = setData;
  A.throttled = throttled;
})();
