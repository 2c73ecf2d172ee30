/* Texts of the order ticket, outcomes, flatten pieces, merged into the i18n table (static/i18n.js).
   The core's refusal texts ("rc_<code>") are in static/i18n_codes.js. */
"use strict";
Object.assign(window.ARBIG_I18N.zh, {
  // ticket (market page)
  tk_title: "下单", tk_closable: "可平", tk_volume: "手数", tk_all: "全部可平", tk_best: "对手价", tk_send_price: "委托价",
  tk_margin: "保证金(预计)", tk_commission: "手续费(预计)", tk_held: "有持仓",
  tk_no_contract: "请选择合约", tk_bad_volume: "手数须为 1 到 1000 的整数", tk_need_price: "限价单请填写价格",
  tk_bad_price: "价格须为正数", tk_label: "{dir}{off} {volume} 手 {symbol} {price}",
  tk_closable_side: "{dir} 可平 {n}（持 {held}：今 {td} / 昨 {yd}，冻结 {frozen}）",
  tk_quote: "买一 {bid} · 卖一 {ask} · 最新 {last}", tk_submit: "下单", tk_previewing: "计算中…",
  tk_nothing_sent: "核心不会发出任何委托", tk_exact: "核心将发出的委托（平仓按平今/平昨拆分）：",
  tk_market_note: "市价单以对手价加减若干最小变动价位的限价发出（不超出涨跌停），发出时按当时盘口定价；成交后跟踪：超时撤单、改价重报。",
  tk_stop_first: "先停止运行中的策略：{names}（否则策略会继续交易此合约）", tk_confirm_title: "确认下单", tk_confirm: "确认下单",
  tk_stopped: "已停止策略：{names}",
  dir_LONG: "买", dir_SHORT: "卖", off_OPEN: "开仓", off_CLOSE: "平仓", off_CLOSETODAY: "平今", off_CLOSEYESTERDAY: "平昨",
  // outcomes (toasts)
  out_pending: "已发出，等待交易所…", out_working: "委托中：已成交 {traded}/{volume}", out_filled: "全部成交 {traded}/{volume}",
  out_partial: "部分成交 {traded}/{volume}，其余已撤", out_partial_rejected: "部分成交 {traded}/{volume}，其余拒单：{reason}",
  out_cancelled: "已撤：未成交", out_rejected: "拒单：{reason}", out_no_reason: "（未给出原因）", out_sent_short: "已发出",
  // positions page close
  stop_strategies: "先停止策略", close_stop_first: "先停止运行中的策略：{names}（它们交易此合约）",
  close_no_price: "已改为限价：请填写价格后再确认。",
  // emergency stop + flatten
  fl_close_all: "同时平掉所有持仓", fl_close_all_hint: "停止后等到没有活动委托，再列出将发出的每笔平仓（市价），需再次确认。",
  fl_stop_result: "已停止策略：{strategies}；撤单 {orders} 笔；结束跟踪 {executions} 个", fl_quiet: "没有活动委托了。",
  fl_wait: "等待活动委托结束：还有 {n} 笔", fl_wait_late: "{s} 秒后仍有 {n} 笔活动委托（撤单未确认？）。继续等待；也可关闭此窗口查看委托。",
  fl_title: "平掉所有持仓", fl_text: "将以市价平掉以下 {n} 个持仓（每笔都会跟踪到最终结果）：", fl_position: "持仓方向",
  fl_nothing: "没有持仓，无需平仓。", fl_confirm: "确认平仓（{n} 笔）", fl_look_again: "重新查看持仓",
  fl_close_label: "平{dir} {volume} 手 {symbol}", fl_sent: "已发出 {n} 笔平仓，逐笔跟踪结果如上。",
});
Object.assign(window.ARBIG_I18N.en, {
  tk_title: "Order ticket", tk_closable: "Closable", tk_volume: "Lots", tk_all: "All closable", tk_best: "Opposite best",
  tk_send_price: "Order price", tk_margin: "Margin (est.)", tk_commission: "Commission (est.)", tk_held: "held",
  tk_no_contract: "choose a contract", tk_bad_volume: "lots must be a whole number from 1 to 1000", tk_need_price: "enter a limit price",
  tk_bad_price: "the price must be a positive number", tk_label: "{dir} {off} {volume} lots {symbol} {price}",
  tk_closable_side: "{dir} closable {n} (held {held}: today {td} / yd {yd}, frozen {frozen})",
  tk_quote: "bid {bid} · ask {ask} · last {last}", tk_submit: "Order", tk_previewing: "computing…",
  tk_nothing_sent: "the core would send no order", tk_exact: "The orders the core will send (a close split into close-today / close-yesterday):",
  tk_market_note: "A MARKET order is sent as a limit at the opposite best plus a few ticks (within the daily limits), priced from the book when it is sent; it is followed up: timeout, cancel, reprice.",
  tk_stop_first: "Stop the running strategies first: {names} (else they keep trading this contract)", tk_confirm_title: "Confirm order",
  tk_confirm: "Send order", tk_stopped: "Strategies stopped: {names}",
  dir_LONG: "Buy", dir_SHORT: "Sell", off_OPEN: "Open", off_CLOSE: "Close", off_CLOSETODAY: "Close today", off_CLOSEYESTERDAY: "Close yesterday",
  out_pending: "sent, waiting for the exchange…", out_working: "working: {traded}/{volume} filled", out_filled: "filled {traded}/{volume}",
  out_partial: "partly filled {traded}/{volume}, the rest cancelled", out_partial_rejected: "partly filled {traded}/{volume}, the rest rejected: {reason}",
  out_cancelled: "cancelled: nothing filled", out_rejected: "rejected: {reason}", out_no_reason: "(no reason given)", out_sent_short: "sent",
  stop_strategies: "Stop strategies first", close_stop_first: "Stop the running strategies first: {names} (they trade this contract)",
  close_no_price: "Switched to LIMIT: enter a price and confirm again.",
  fl_close_all: "and close all positions", fl_close_all_hint: "After the stop, waits until no order is active, then lists every close it will send (MARKET) for a second confirmation.",
  fl_stop_result: "strategies stopped: {strategies}; {orders} orders cancelled; {executions} follow-ups ended", fl_quiet: "No active order left.",
  fl_wait: "Waiting for the active orders to end: {n} left", fl_wait_late: "{n} orders still active after {s} s (cancel not confirmed?). Still waiting; you may close this window and look at the orders.",
  fl_title: "Close all positions", fl_text: "These {n} positions will be closed at MARKET (each followed to its outcome):", fl_position: "Position",
  fl_nothing: "No position: nothing to close.", fl_confirm: "Close all ({n})", fl_look_again: "Look at the positions again",
  fl_close_label: "close {dir} {volume} lots {symbol}", fl_sent: "{n} closes sent; each one's outcome is followed above.",
});
