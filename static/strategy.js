/* Strategy page: each strategy's class, contract, parameters, variables and state with init/start/stop (start
   is disabled, with the reason, while the trade gate in app.js is closed; stop never is), and the trigger
   records (paginated from MySQL, new ones added live). */
"use strict";
(function () {
  const A = window.ARBIG, $ = A.$;
  /* A trigger's action in the page's language (pos_sync: a hand trade brought the strategy's pos to the account). */
  function actionLabel(action) { const key = "tst_a_" + action, text = A.t(key); return text === key ? action : text; }
  const strategies = new Map();

  function kvTable(obj) {
    const entries = Object.entries(obj || {});
    if (!entries.length) return "<div class='muted'>" + A.t("none") + "</div>";
    return "<table class='minitable'>" + entries.map(([k, v]) => "<tr><td class='muted'>" + A.esc(k) + "</td><td class='num'>"
      + A.esc(typeof v === "number" ? A.num(v, Number.isInteger(v) ? 0 : 4) : JSON.stringify(v)) + "</td></tr>").join("") + "</table>";
  }
  function buttonsState(s) {
    return { "s-init": !s.inited && s.state !== "INITING", "s-start": s.inited && !s.trading, "s-stop": !!s.trading };
  }
  function cardBody(s) {
    return '<div class="kv"><div><label>' + A.esc(A.t("class_name")) + "</label><span class='text mono'>" + A.esc(s.class_name) + "</span></div>"
      + "<div><label>" + A.esc(A.t("col_contract")) + "</label><span class='text mono'>" + A.esc(s.vt_symbol) + "</span></div>"
      + "<div><label>" + A.esc(A.t("gw_since")) + "</label><span class='text mono'>" + A.esc(A.fmtDateTime(s.ts_ms)) + "</span></div></div>"
      + (s.error ? "<div class='msg bad'>" + A.esc(s.error) + "</div>" : "")
      + (s.note ? "<div class='msg warn note'>" + A.esc(s.note) + "</div>" : "")
      + "<div class='grid2' style='margin-top:8px'><div><label class='muted'>" + A.esc(A.t("parameters")) + "</label>" + kvTable(s.parameters)
      + "</div><div><label class='muted'>" + A.esc(A.t("variables")) + "</label>" + kvTable(s.variables) + "</div></div>";
  }
  function card(s) {
    return '<section class="panel" data-name="' + A.esc(s.name) + '"><h2><span class="mono">' + A.esc(s.name) + '</span><span class="badge"></span><span class="right">'
      + '<button class="s-init"></button><button class="s-start primary"></button><button class="s-stop danger"></button></span></h2><div class="body"></div></section>';
  }
  /* Update a card in place (buttons are kept, so a click is never lost to a re-render). */
  function updateCard(sec, s) {
    const badge = $(".badge", sec);
    badge.className = "badge " + s.state; badge.textContent = s.state;
    const enabled = buttonsState(s);
    for (const [cls, label] of [["s-init", "init"], ["s-start", "start"], ["s-stop", "stop"]]) {
      const btn = $("." + cls, sec);
      if (cls === "s-start") A.gateButton(btn, !enabled[cls]);  // starting trades: only with the gateway ready
      else btn.disabled = !enabled[cls];
      btn.textContent = A.t(label);
    }
    const html = cardBody(s), body = $(".body", sec);
    if (body.innerHTML !== html) body.innerHTML = html;
  }
  function renderStrategies() {
    const list = Array.from(strategies.values()).sort((a, b) => a.name.localeCompare(b.name));
    const box = $("#strategies");
    const shown = Array.from(box.querySelectorAll("section[data-name]"), (sec) => sec.dataset.name);
    if (shown.join("\n") !== list.map((s) => s.name).join("\n")) rebuild(box, list);
    box.querySelectorAll("section[data-name]").forEach((sec) => updateCard(sec, strategies.get(sec.dataset.name)));
  }
  function rebuild(box, list) {
    box.innerHTML = list.length ? list.map(card).join("") : "<div class='panel empty'>" + A.esc(A.t("no_strategies")) + "</div>";
    box.querySelectorAll("section[data-name]").forEach((sec) => {
      const name = sec.dataset.name;
      for (const [cls, type, label] of [["s-init", "strategy.init", "init"], ["s-start", "strategy.start", "start"], ["s-stop", "strategy.stop", "stop"]]) {
        $("." + cls, sec).onclick = () => A.confirmCommand({ title: A.t(label) + " · " + name, type, params: { name }, danger: type === "strategy.stop" });
      }
    });
    const filter = $("#t-filter"), keep = filter.value;
    filter.innerHTML = '<option value="">' + A.esc(A.t("all")) + "</option>" + list.map((s) => '<option value="' + A.esc(s.name) + '">' + A.esc(s.name) + "</option>").join("");
    filter.value = keep;
  }

  function resultCell(r) {
    const cls = r.result === "failed" ? "bad" : r.result === "success" ? "ok" : "warn";
    return "<td class='" + cls + "' title='" + A.esc(r.error) + "'>" + A.esc(r.result) + (r.error ? ": " + A.esc(r.error) : "") + "</td>";
  }
  function triggerRow(r) {
    return "<tr data-uid='" + A.esc(r.uid) + "'><td class='mono'>" + A.esc(A.fmtDateTime(r.ts_ms, true)) + "</td><td class='mono'>" + A.esc(r.strategy) + "</td><td class='mono'>" + A.esc(r.vt_symbol)
      + "</td><td class='wrap'>" + A.esc(r.condition) + "</td><td>" + A.esc(actionLabel(r.action)) + "</td><td class='num'>" + A.num(r.price) + "</td><td class='num'>" + A.num(r.volume, 0)
      + "</td>" + resultCell(r) + "<td class='mono'>" + A.esc((r.vt_orderids || []).join(", ")) + "</td></tr>";
  }
  function renderTriggers(items, res) {
    const tbody = $("#triggers");
    if (!items) { tbody.innerHTML = "<tr><td colspan=9 class='msg bad'>" + A.esc(A.refusalText(res.body)) + "</td></tr>"; return; }
    tbody.innerHTML = items.length ? items.map(triggerRow).join("") : "<tr><td colspan=9 class='empty'>" + A.esc(A.t("none")) + "</td></tr>";
  }
  const pager = A.Pager((cursor) => {
    const q = new URLSearchParams({ page_size: "50" });
    if ($("#t-filter").value) q.set("strategy", $("#t-filter").value);
    if (cursor) q.set("cursor", cursor);
    return A.api("GET", "/api/triggers?" + q);
  }, renderTriggers, { newer: $("#t-newer"), older: $("#t-older"), label: $("#t-page") });
  function onTrigger(r, kind) {
    if (kind === "snapshot") return;            // page 1 comes from the API (paginated)
    if (r.update) {                             // a later result for a trigger already shown
      const tr = document.querySelector("#triggers tr[data-uid='" + CSS.escape(r.uid) + "']");
      if (tr) tr.cells[7].outerHTML = resultCell(r);
      return;
    }
    const filter = $("#t-filter").value;
    if (!pager.onFirstPage() || (filter && filter !== r.strategy)) return;
    const tbody = $("#triggers"), empty = tbody.querySelector(".empty");
    if (empty) tbody.innerHTML = "";
    tbody.insertAdjacentHTML("afterbegin", triggerRow(r).replace("<tr ", "<tr class='flash' "));
    while (tbody.rows.length > 50) tbody.deleteRow(-1);
  }

  A.on("strategies", (data, kind) => {
    if (kind === "snapshot") { strategies.clear(); data.forEach((s) => strategies.set(s.name, s)); }
    else strategies.set(data.name, data);
    renderStrategies();
  });
  A.on("triggers", onTrigger);
  A.subscribe(["strategies", "triggers"]);
  $("#t-filter").onchange = () => pager.reset();
  A.onTradeGate(renderStrategies);
  A.onLang(() => { rebuild($("#strategies"), Array.from(strategies.values()).sort((a, b) => a.name.localeCompare(b.name))); renderStrategies(); });
  pager.reset();
})();
