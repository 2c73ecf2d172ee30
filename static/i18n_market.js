/* Texts of the market page pieces (five book levels, 1-minute candles) and of the API reference page (/docs),
   merged into the i18n table (static/i18n.js). */
"use strict";
Object.assign(window.ARBIG_I18N.zh, {
  ask_1: "卖一", ask_2: "卖二", ask_3: "卖三", ask_4: "卖四", ask_5: "卖五",
  bid_1: "买一", bid_2: "买二", bid_3: "买三", bid_4: "买四", bid_5: "买五",
  candles_title: "1分钟K线", candles_note: "近 {n} 分钟 · 由行情 tick 生成", candles_none: "暂无K线：还没有记录到 tick",
  close_l: "收盘",
  docs_title: "API 文档", docs_raw: "OpenAPI JSON", docs_name: "名称", docs_in: "位置", docs_type: "类型", docs_description: "说明",
  docs_intro: "登录后的会话 cookie 即可访问所有接口。POST 需同源 Origin 和 X-CSRF-Token 请求头（取自 GET /api/session）。实时推送：WebSocket /ws。",
});
Object.assign(window.ARBIG_I18N.en, {
  ask_1: "Ask 1", ask_2: "Ask 2", ask_3: "Ask 3", ask_4: "Ask 4", ask_5: "Ask 5",
  bid_1: "Bid 1", bid_2: "Bid 2", bid_3: "Bid 3", bid_4: "Bid 4", bid_5: "Bid 5",
  candles_title: "1-minute candles", candles_note: "last {n} minutes · built from the ticks", candles_none: "No candles: no tick recorded yet",
  close_l: "Close",
  docs_title: "API reference", docs_raw: "OpenAPI JSON", docs_name: "Name", docs_in: "In", docs_type: "Type", docs_description: "Description",
  docs_intro: "The logged-in session's cookie opens every route. POSTs need this app's Origin and the X-CSRF-Token header (from GET /api/session). Live pushes: WebSocket /ws.",
});
