/* Texts of the sessions pieces (static/session.js: header pill, market page box), merged into the i18n
   table (static/i18n.js). ss_r_* translate the core's reasons (common/trading_sessions.py). */
"use strict";
Object.assign(window.ARBIG_I18N.zh, {
  ss_title: "交易时段", ss_tz: "北京时间", ss_closed: "休市",
  ss_pill_unknown: "时段 未知", ss_pill_always: "24h 演示", ss_pill_open: "开盘中 · 至 {time}",
  ss_pill_next: "{state} · {time} 开盘",
  ss_state: "状态", ss_mode: "模式", ss_reason: "原因", ss_closes: "本节结束", ss_next_open: "下次开盘",
  ss_state_unknown: "未知", ss_state_always: "开盘（24h 演示）", ss_state_open: "开盘中", ss_state_break: "盘中休息",
  ss_state_closed: "休市",
  ss_mode_always: "24h 演示（模拟，不按交易所时段）", ss_mode_shfe: "上期所时段（含节假日）",
  ss_why_ws: "页面未连接", ss_why_core: "没有核心心跳", ss_why_none: "核心未报告交易时段",
  ss_r_24h_demo: "24h 演示", ss_r_morning_break: "上午小节休息", ss_r_lunch_break: "午休",
  ss_r_day_session_ended: "日盘已收盘", ss_r_night_session_ended: "夜盘已收盘", ss_r_before_the_day_session: "日盘开盘前",
  ss_r_weekend: "周末", ss_r_holiday: "节假日 {date}", ss_r_holiday_eve: "节假日 {date} 前无夜盘",
});
Object.assign(window.ARBIG_I18N.en, {
  ss_title: "Trading session", ss_tz: "China time", ss_closed: "Closed",
  ss_pill_unknown: "Session unknown", ss_pill_always: "24h demo", ss_pill_open: "Open · until {time}",
  ss_pill_next: "{state} · opens {time}",
  ss_state: "State", ss_mode: "Mode", ss_reason: "Reason", ss_closes: "Session ends", ss_next_open: "Next open",
  ss_state_unknown: "Unknown", ss_state_always: "Open (24h demo)", ss_state_open: "Open", ss_state_break: "Break",
  ss_state_closed: "Closed",
  ss_mode_always: "24h demo (simulator, no exchange sessions)", ss_mode_shfe: "SHFE sessions (with holidays)",
  ss_why_ws: "page not connected", ss_why_core: "no core heartbeat", ss_why_none: "the core reports no session",
  ss_r_24h_demo: "24h demo", ss_r_morning_break: "Morning break", ss_r_lunch_break: "Lunch break",
  ss_r_day_session_ended: "Day session ended", ss_r_night_session_ended: "Night session ended",
  ss_r_before_the_day_session: "Before the day session",
  ss_r_weekend: "Weekend", ss_r_holiday: "Holiday {date}", ss_r_holiday_eve: "No night session before holiday {date}",
});
