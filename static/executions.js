/* Positions page, section "执行回报": the orders the app follows up (operator closes, emergency stop, AI entries),
   one row per execution with its steps in order (已报单 → 超时撤单 → 改价重报 → 全部成交 …), live from the
   "executions" topic: the snapshot is the recent executions (MySQL), each update one step. */
"use strict";
(function () {
  const A = window.ARBIG, $ = A.$;
  const MAX_EXECUTIONS = 20;
  const DONE = ["FILLED", "POSITION_CLOSED"], FAILED = ["REJECTED", "GAVE_UP"], TROUBLE = ["TIMEOUT", "CANCELLED", "REPRICED", "FALLBACK"];
  let groups = new Map();  // execution_id -> {execution_id, source, vt_symbol, direction, offset, started_ms, updated_ms, steps}

  function label(prefix, value) { const key = prefix + value, text = A.t(key); return text === key ? value : text; }
  function stepClass(step) {
    return DONE.includes(step) ? "ok" : FAILED.includes(step) ? "bad" : TROUBLE.includes(step) ? "warn" : "";
  }
  function stepTitle(s) {
    const parts = [s.step, A.fmtDateTime(s.ts_ms, true)];
    if (s.vt_orderid) parts.push(s.vt_orderid);
    if (s.price !== null && s.price !== undefined) parts.push(A.t("price") + " " + A.num(s.price));
    if (s.volume !== null && s.volume !== undefined) parts.push(A.t("col_qty") + " " + A.num(s.volume, 0));
    if (s.traded !== null && s.traded !== undefined) parts.push(A.t("col_traded") + " " + A.num(s.traded, 0));
    if (s.attempt) parts.push(A.t("exec_attempt", { n: s.attempt }));
    if (s.message) parts.push(s.message);
    return parts.join(" · ");
  }
  function stepHtml(s) {
    const extra = s.price !== null && s.price !== undefined ? " @" + A.num(s.price) : "";
    return "<span class='step " + stepClass(s.step) + "' data-step='" + A.esc(s.step) + "' title='" + A.esc(stepTitle(s)) + "'>"
      + A.esc(label("es_", s.step)) + "<span class='mono muted'>" + A.esc(extra) + "</span></span>";
  }
  function rowHtml(g) {
    return "<tr data-id='" + A.esc(g.execution_id) + "'><td class='mono'>" + A.esc(A.fmtTime(g.started_ms)) + "</td><td>"
      + A.esc(label("src_", g.source)) + "</td><td class='mono'>" + A.esc(g.vt_symbol) + "</td><td>" + A.esc(label("", g.direction))
      + "</td><td>" + A.esc(g.offset) + "</td><td class='wrap steps'>" + g.steps.map(stepHtml).join("<span class='arrow'>→</span>")
      + "</td><td class='mono muted'>" + A.esc(g.execution_id) + "</td></tr>";
  }
  function render() {
    const list = Array.from(groups.values()).sort((a, b) => b.updated_ms - a.updated_ms).slice(0, MAX_EXECUTIONS);
    const tbody = $("#exec-body");
    tbody.innerHTML = list.length ? list.map(rowHtml).join("") : "<tr><td colspan=7 class='empty'>" + A.esc(A.t("exec_none")) + "</td></tr>";
  }
  function addStep(s) {
    let g = groups.get(s.execution_id);
    if (!g) {
      g = { execution_id: s.execution_id, source: s.source, vt_symbol: s.vt_symbol, direction: s.direction, offset: s.offset,
        started_ms: s.ts_ms, updated_ms: s.ts_ms, steps: [] };
      groups.set(s.execution_id, g);
    }
    if (g.steps.some((x) => x.uid === s.uid)) return;  // already read from MySQL
    g.steps.push(s);
    g.steps.sort((a, b) => a.ts_ms - b.ts_ms);  // stable: same-millisecond steps keep their arrival order
    g.started_ms = g.steps[0].ts_ms; g.updated_ms = g.steps[g.steps.length - 1].ts_ms;
  }
  A.on("executions", (data, kind) => {
    if (kind === "snapshot") {
      if (!Array.isArray(data)) return;
      groups = new Map(data.map((g) => [g.execution_id, { ...g, steps: g.steps.slice() }]));
    } else addStep(data);
    render();
  });
  A.subscribe(["executions"]);
  A.onLang(render);
})();
