/* Texts of the system page's core state and calendar warning (static/system.js), merged into the i18n
   table (static/i18n.js). cs_* name the core's lifecycle states (common/lifecycle.py). */
"use strict";
Object.assign(window.ARBIG_I18N.zh, {
  core_state: "运行状态", core_state_reason: "降级原因",
  cs_starting: "启动中", cs_running: "正常运行", cs_degraded: "降级运行", cs_stopping: "停止中", cs_stopped: "已停止",
  calendar_warning: "节假日日历未覆盖来年：",
});
Object.assign(window.ARBIG_I18N.en, {
  core_state: "Core state", core_state_reason: "Degraded because",
  cs_starting: "Starting", cs_running: "Running", cs_degraded: "Degraded", cs_stopping: "Stopping", cs_stopped: "Stopped",
  calendar_warning: "Holiday calendar does not cover the coming year: ",
});
