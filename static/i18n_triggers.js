/* Texts of the trigger statistics pieces, merged into the i18n table (static/i18n.js). */
"use strict";
Object.assign(window.ARBIG_I18N.zh, {
  tst_title: "触发统计", tst_days: "最近交易日", tst_updated: "更新于 {t}",
  tst_note: "被拒 = 未发出委托（开平转换无可平仓位或资金不足）；持仓同步 = 手动成交后核心校正策略持仓，不算信号。"
    + "成交率 = 已结束信号的委托成交量 / 委托量（挂单中的不计）；滑点 = 成交均价相对触发价，正数 = 对我们不利（买：成交 - 触发，卖：触发 - 成交）。"
    + "未关联 = 委托不在记录中（如本地停止单）。",
  tst_failed: "触发统计读取失败：{reason}", tst_none: "所选范围内没有触发记录",
  tst_signals: "信号", tst_other: "其他", tst_pos_sync: "持仓同步", tst_fill_ratio: "成交率", tst_slippage: "平均滑点",
  tst_unlinked: "未关联", tst_total: "合计", tst_ticks: "跳", tst_count: "次数", tst_slip_ticks: "滑点(跳)",
  tst_a_buy: "买开", tst_a_sell: "卖平", tst_a_short: "卖开", tst_a_cover: "买平", tst_a_pos_sync: "持仓同步",
  tst_r_success: "成功", tst_r_failed: "失败", tst_r_pending: "进行中", tst_r_refused: "被拒",
  tst_fill_title: "成交 {filled} / 委托 {requested} 手（已结束的信号）",
  tst_slip_title: "{n} 个有成交的信号的平均值",
});
Object.assign(window.ARBIG_I18N.en, {
  tst_title: "Trigger statistics", tst_days: "Last trading days", tst_updated: "updated {t}",
  tst_note: "Refused = no order was sent (the offset converter had nothing to close, or not enough funds); "
    + "pos sync = the core correcting a strategy's position after a manual trade, not a signal. "
    + "Fill ratio = filled / requested volume of the orders of settled signals (pending ones excluded); "
    + "slippage = average fill price against the trigger price, positive = worse for us (buy: fill - trigger, sell: trigger - fill). "
    + "Unlinked = orders not in the records (e.g. local stop orders).",
  tst_failed: "Could not read the trigger statistics: {reason}", tst_none: "No triggers in this range",
  tst_signals: "Signals", tst_other: "Other", tst_pos_sync: "Pos sync", tst_fill_ratio: "Fill ratio", tst_slippage: "Avg slippage",
  tst_unlinked: "Unlinked", tst_total: "Total", tst_ticks: "ticks", tst_count: "Count", tst_slip_ticks: "Slippage (ticks)",
  tst_a_buy: "Buy", tst_a_sell: "Sell", tst_a_short: "Short", tst_a_cover: "Cover", tst_a_pos_sync: "Pos sync",
  tst_r_success: "Success", tst_r_failed: "Failed", tst_r_pending: "Pending", tst_r_refused: "Refused",
  tst_fill_title: "filled {filled} of {requested} lots (settled signals)",
  tst_slip_title: "average over {n} signals with fills",
});
