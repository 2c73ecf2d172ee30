/* ARBIG console, the live WebSocket client: subscribe to topics, dispatch snapshots and updates, keep the
   core's heartbeat status (A.state.status; null while the page is disconnected: then nothing is known), the
   server clock offset, silence detection and reconnect with backoff. Every change of A.state is announced
   with a document event "arbig:state" (header.js renders the header from it). */
"use strict";
(function () {
  const A = window.ARBIG, state = A.state, body = document.body;
  const BACKOFF_S = [1, 2, 4, 8, 16, 30, 60, 120, 300, 600];
  const SILENCE_MS = 15000;
  const handlers = {};   // topic -> [fn(data, kind)]
  const topics = new Set(["heartbeat"]);
  let ws = null, silenceTimer = null, retryTimer = null;

  function changed() { document.dispatchEvent(new Event("arbig:state")); }
  function serverNow() { return Date.now() + state.offset; }
  function on(topic, fn) { (handlers[topic] = handlers[topic] || []).push(fn); }
  function send(msg) { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg)); }
  function subscribe(list) {
    list.forEach((tp) => topics.add(tp));
    send({ op: "subscribe", topics: list });
  }
  function unsubscribe(list) {
    list.forEach((tp) => topics.delete(tp));
    send({ op: "unsubscribe", topics: list });
  }
  function resubscribe() { send({ op: "subscribe", topics: Array.from(topics) }); }

  /* The heartbeat status first of all handlers (registered here, before any page's). */
  on("heartbeat", (st) => {
    const recovered = A.redisDown() && st.redis_ok === true;
    state.status = st; state.offset = st.server_ms - Date.now(); changed();
    if (recovered) resubscribe();  // Redis is back: fresh snapshots of every topic (updates were missed meanwhile)
  });

  function dispatch(msg) {
    if (msg.type === "snapshot" || msg.type === "update") {
      state.lastData = Date.now();  // the server confirmed the page's data is current just now
      (handlers[msg.topic] || []).forEach((fn) => { try { fn(msg.data, msg.type); } catch (e) { console.error(e); } });
    } else if (msg.type === "ping") {
      state.offset = msg.t - Date.now();
      send({ op: "pong", t: msg.t });
    } else if (msg.type === "hello") {
      state.offset = msg.server_ms - Date.now(); state.attempt = 0; state.retryIn = 0;
    } else if (msg.type === "resync") {
      resubscribe();
    } else if (msg.type === "error") {
      console.warn("server:", msg.message);
    }
  }
  function armSilence() {
    clearTimeout(silenceTimer);
    silenceTimer = setTimeout(() => { if (ws) ws.close(4000, "silent server"); }, SILENCE_MS);
  }
  function connect() {
    state.ws = "connecting"; changed();
    const proto = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(proto + location.host + "/ws");
    ws.onopen = () => {
      state.ws = "open"; state.attempt = 0; state.retryIn = 0; armSilence(); changed();
      resubscribe();
    };
    ws.onmessage = (ev) => {
      armSilence();
      let msg; try { msg = JSON.parse(ev.data); } catch (e) { return; }
      dispatch(msg);
    };
    ws.onclose = (ev) => {
      clearTimeout(silenceTimer); ws = null;
      state.ws = "closed"; state.status = null;  // the last good status is no longer known to be true
      changed(); afterClose(ev.code);
    };
  }
  function toLogin() {
    sessionStorage.setItem("arbig.expired", "1");
    location.href = "/login?next=" + encodeURIComponent(location.pathname);
  }
  async function afterClose(code) {
    if (code === 4401) { toLogin(); return; }
    try {  // a refused handshake looks like any other close: ask whether the session is still valid
      const res = await fetch("/api/session", { credentials: "same-origin" });
      if (res.status === 401) { toLogin(); return; }
    } catch (e) { /* server unreachable: keep retrying */ }
    scheduleReconnect();
  }
  function scheduleReconnect() {
    const max = Number(body.dataset.reconnectMax) || 10;
    if (state.attempt >= max) { state.gaveUp = true; changed(); return; }
    const delay = BACKOFF_S[Math.min(state.attempt, BACKOFF_S.length - 1)];
    state.attempt += 1; state.retryIn = delay;
    const until = Date.now() + delay * 1000;
    clearInterval(retryTimer);
    retryTimer = setInterval(() => {
      state.retryIn = Math.max(0, (until - Date.now()) / 1000); changed();
      if (state.retryIn <= 0) { clearInterval(retryTimer); connect(); }
    }, 250);
  }

  Object.assign(A, { on, subscribe, unsubscribe, serverNow });
  document.addEventListener("DOMContentLoaded", connect);
})();
