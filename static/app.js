/* ARBIG console, the page chrome: the active nav link, the language toggle, log out, and the header's
   emergency stop (a confirmation of emergency.stop, or the handler a page sets with A.onEstop(fn)).
   The rest of window.ARBIG: ui.js (i18n, formatting, API, dialogs), live.js (WebSocket), header.js
   (pills, banner, trade gate, command lock), notices.js (broker errors). */
"use strict";
(function () {
  const A = window.ARBIG, t = A.t, $ = A.$;
  let estopHandler = null;

  function defaultEstop() {
    return A.confirmCommand({ title: t("estop_title"), text: t("estop_text"), type: "emergency.stop",
      params: {}, danger: true, confirmText: t("estop") });
  }
  function initChrome() {
    const page = document.body.dataset.page;
    document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.page === page));
    $("#lang-toggle").onclick = () => A.setLang(A.lang() === "zh" ? "en" : "zh");
    $("#logout").onclick = async () => { await A.api("POST", "/logout"); location.href = "/login"; };
    $("#estop").onclick = () => (estopHandler ? estopHandler() : defaultEstop());
    A.applyI18n();
  }

  /* The header's emergency stop calls fn() instead of the default confirmation (fn = null: the default again). */
  A.onEstop = (fn) => { estopHandler = fn; };
  document.addEventListener("DOMContentLoaded", initChrome);
})();
