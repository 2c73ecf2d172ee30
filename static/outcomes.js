/* Outcomes, not "sent": each request that sent orders (the ticket, a close, a flatten leg) is followed to its final
   state in a toast (and mirrored into its dialog), live from the "orders" topic: 全部成交 filled, 部分成交 partly
   filled (the rest cancelled), 已撤 cancelled, 拒单 rejected with the broker's reason. A followed-up request
   (execution_id) also reads the "executions" topic: its follow-up may cancel an order and send the rest again under
   a new id, so the outcome waits for that. A good outcome fades after a while; a bad one stays until dismissed.
   API: A.follow(orders, opts) = window.ARBIG_OUTCOMES.follow -> tracker {ids, done, outcome, onDone(fn)};
   `orders` are vt_orderids or the answer's {vt_orderid, direction, offset, volume, price};
   opts {label, executionId, volume (lots asked for), into (an element that mirrors the outcome)}. */
"use strict";
(function () {
  const A = window.ARBIG;
  const ACTIVE = ["SUBMITTING", "NOTTRADED", "PARTTRADED"];
  const GOOD_TOAST_MS = 20000;
  const RESEND_STEPS = ["REPRICED", "FALLBACK"], END_STEPS = ["GAVE_UP", "POSITION_CLOSED"];
  const orders = new Map();   // vt_orderid -> latest OrderState
  const trackers = new Set();
  const recentSteps = [];     // the latest execution steps: a step that came before its answer is not lost
  const RECENT_STEPS = 300;
  let listening = false;

  function isFinal(o) { return !!o && !ACTIVE.includes(o.status); }
  /* Never step back from a final state (a snapshot read just before the last update). */
  function remember(o) {
    if (!o || !o.vt_orderid) return;
    const known = orders.get(o.vt_orderid);
    if (isFinal(known) && !isFinal(o)) return;
    orders.set(o.vt_orderid, o);
  }
  function listen() {
    if (listening) return;
    listening = true;
    A.on("orders", (data, kind) => {
      (kind === "snapshot" ? data || [] : [data]).forEach(remember);
      trackers.forEach((tr) => tr.update());
    });
    A.on("executions", (data, kind) => {
      const steps = kind === "snapshot" ? (Array.isArray(data) ? data : []).flatMap((g) => g.steps || []) : [data];
      steps.forEach((s) => {
        recentSteps.push(s);
        if (recentSteps.length > RECENT_STEPS) recentSteps.shift();
        trackers.forEach((tr) => tr.step(s));
      });
    });
    A.subscribe(["orders", "executions"]);
    A.onLang(() => trackers.forEach((tr) => tr.render()));
  }

  function label(prefix, value) { const key = prefix + value, text = A.t(key); return text === key ? value : text; }
  function toastBox() {
    let box = document.getElementById("toasts");
    if (!box) {
      box = document.createElement("div");
      box.id = "toasts"; box.className = "toasts"; box.setAttribute("aria-live", "polite");
      document.body.appendChild(box);
    }
    return box;
  }

  /* What the orders add up to: {done, outcome: pending|working|filled|partial|cancelled|rejected, traded, volume}. */
  function judge(tr) {
    const seen = tr.ids.map((id) => orders.get(id));
    const traded = seen.reduce((sum, o) => sum + (o ? Number(o.traded) || 0 : 0), 0);
    const volume = tr.volume || tr.first.reduce((sum, id) => sum + (Number((orders.get(id) || tr.sent[id] || {}).volume) || 0), 0);
    const allFinal = seen.length > 0 && seen.every(isFinal);
    const ended = tr.steps.some((s) => END_STEPS.includes(s.step));
    const timeouts = tr.steps.filter((s) => s.step === "TIMEOUT").length;
    const resent = tr.steps.filter((s) => RESEND_STEPS.includes(s.step)).length;
    const resendDue = !!tr.executionId && !ended && timeouts > resent && !(volume && traded >= volume);
    const reasons = Array.from(new Set(seen.filter((o) => o && o.status === "REJECTED").map((o) => o.reason || A.t("out_no_reason"))));
    if (!allFinal || resendDue) {
      return { done: false, outcome: traded > 0 || seen.some((o) => o && o.status !== "SUBMITTING") ? "working" : "pending", traded, volume, reasons };
    }
    let outcome = "cancelled";
    if (volume && traded >= volume) outcome = "filled";
    else if (traded > 0) outcome = "partial";
    else if (reasons.length) outcome = "rejected";
    return { done: true, outcome, traded, volume, reasons };
  }
  const CLASS = { pending: "warn", working: "warn", filled: "ok", partial: "bad", cancelled: "bad", rejected: "bad" };
  function headline(v) {
    const vars = { traded: A.num(v.traded, 0), volume: A.num(v.volume, 0), reason: v.reasons.join("; ") };
    if (v.outcome === "partial" && v.reasons.length) return A.t("out_partial_rejected", vars);
    return A.t("out_" + v.outcome, vars);
  }
  function orderRow(tr, id) {
    const o = orders.get(id) || tr.sent[id] || {};
    const status = o.status ? label("os_", o.status) : A.t("out_sent_short");
    const cls = o.status === "REJECTED" ? "bad" : o.status === "ALLTRADED" ? "ok" : o.status === "CANCELLED" ? "warn" : "";
    return "<tr data-id='" + A.esc(id) + "' data-status='" + A.esc(o.status || "") + "'><td class='mono'>" + A.esc(id) + "</td><td>"
      + A.esc(label("dir_", o.direction || "")) + " " + A.esc(label("off_", o.offset || "")) + "</td><td class='num'>"
      + A.num(o.traded || 0, 0) + "/" + A.num(o.volume, 0) + " @" + A.num(o.price) + "</td><td class='o-state " + cls + "'>"
      + A.esc(status) + "</td><td class='wrap o-reason'>" + A.esc(o.status === "REJECTED" ? o.reason || A.t("out_no_reason") : "") + "</td></tr>";
  }
  function bodyHtml(tr) {
    return "<table class='minitable out-orders'>" + tr.ids.map((id) => orderRow(tr, id)).join("") + "</table>";
  }

  function Tracker(list, opts) {
    this.label = opts.label || "";
    this.executionId = opts.executionId || "";
    this.volume = Number(opts.volume) || 0;
    this.into = opts.into || null;
    this.sent = {};
    this.ids = [];
    (list || []).forEach((item) => {
      const o = typeof item === "string" ? { vt_orderid: item } : item;
      if (!o || !o.vt_orderid || this.ids.includes(o.vt_orderid)) return;
      this.ids.push(o.vt_orderid); this.sent[o.vt_orderid] = o;
    });
    this.first = this.ids.slice();
    this.steps = []; this.stepUids = new Set();
    this.done = false; this.outcome = "pending"; this.view = null;
    this.callbacks = [];
    this.el = document.createElement("div");
    this.el.className = "toast warn";
    toastBox().prepend(this.el);
  }
  Tracker.prototype.step = function (s) {
    if (!s || !this.executionId || s.execution_id !== this.executionId || this.stepUids.has(s.uid)) return;
    this.stepUids.add(s.uid);
    this.steps.push(s);
    if (s.vt_orderid && !this.ids.includes(s.vt_orderid)) {  // the rest sent again under a new id
      this.ids.push(s.vt_orderid);
      this.sent[s.vt_orderid] = { vt_orderid: s.vt_orderid, direction: s.direction, offset: s.offset, volume: s.volume, price: s.price };
    }
    this.update();
  };
  Tracker.prototype.update = function () {
    if (this.done) return;
    const v = judge(this);
    this.view = v; this.outcome = v.outcome;
    this.render();
    if (v.done) this.finish();
  };
  Tracker.prototype.render = function () {
    const v = this.view || judge(this);
    const cls = CLASS[v.outcome], head = headline(v);
    this.el.className = "toast " + cls;
    this.el.dataset.outcome = v.outcome;
    this.el.dataset.ids = this.ids.join(" ");
    this.el.innerHTML = "<div class='thead'><b class='t-state'>" + A.esc(head) + "</b><span class='t-label'>" + A.esc(this.label)
      + "</span><button class='toast-x' title='" + A.esc(A.t("dismiss")) + "'>×</button></div>" + bodyHtml(this);
    this.el.querySelector(".toast-x").onclick = () => this.dismiss();
    if (this.into && this.into.isConnected) {
      this.into.innerHTML = "<div class='msg " + cls + " out-state' data-outcome='" + v.outcome + "'><b>" + A.esc(head) + "</b> "
        + A.esc(this.label) + "</div>" + bodyHtml(this);
    }
  };
  Tracker.prototype.finish = function () {
    this.done = true;
    trackers.delete(this);
    if (this.outcome === "filled") setTimeout(() => this.dismiss(), GOOD_TOAST_MS);
    this.callbacks.forEach((fn) => { try { fn(this); } catch (e) { console.error(e); } });
  };
  Tracker.prototype.onDone = function (fn) { if (this.done) fn(this); else this.callbacks.push(fn); return this; };
  Tracker.prototype.dismiss = function () { trackers.delete(this); this.el.remove(); };

  /* Follow `list` (order ids or the answer's orders) to their final state; see the header. */
  function follow(list, opts) {
    listen();
    const tr = new Tracker(list, opts || {});
    trackers.add(tr);
    if (tr.executionId) recentSteps.forEach((s) => tr.step(s));
    tr.update();
    return tr;
  }
  /* The text for a refused/failed answer: translated by its code when the table has it (A.refusalText when present). */
  function refusal(body) {
    if (A.refusalText) return A.refusalText(body);
    if (body && body.code) {
      const key = "rc_" + body.code, text = A.t(key, body.vars || {});
      if (text !== key) return text;
    }
    return (body && (body.reason || (typeof body.detail === "string" ? body.detail : ""))) || A.detailText(body);
  }

  window.ARBIG_OUTCOMES = { follow, refusal, orders, isFinal };
  A.follow = follow;
})();
