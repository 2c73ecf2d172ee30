"""CTP's error vocabulary: disconnect reasons, request return codes, and which login errors to retry.

ErrorIDs come from CTP's `error.xml` (shipped with the SFIT API, not with vnpy_ctp), as reproduced
in public CTP wrappers: a Rust enum generated from error.xml, a Go wrapper's HFTrade login comment
(3, 7, 8, 75) and webctp's README (request return codes -1/-2/-3). Only errors of a front or
counter that is not ready yet are transient; everything else, and any ErrorID not listed, is
permanent, because repeated logins with a bad password, auth code or a locked account make the
broker lock the account for good (ErrorID 75 "连续登录失败次数超限", 143, 4060).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# CThostFtdcTraderSpi::OnFrontDisconnected reason codes.
DISCONNECT_REASONS: dict[int, str] = {
    0x1001: "network read failed",
    0x1002: "network write failed",
    0x2001: "heartbeat timeout",
    0x2002: "heartbeat send failed",
    0x2003: "bad packet received",
}

# What a CThostFtdcTraderApi::Req* call returns when the request was not sent.
RETURN_CODES: dict[int, str] = {
    -1: "CTP:请求失败 (network not connected)",
    -2: "CTP:未处理请求超过许可数",
    -3: "CTP:每秒发送请求数超过许可数",
}
FLOW_CONTROL_CODES = frozenset({-2, -3})

# Login/authentication answers a front gives while it (or the broker's counter) is not ready:
# during start-up, the nightly settlement and the session switch. Retried with a capped backoff.
TRANSIENT_LOGIN_ERRORS: dict[int, str] = {
    1: "CTP:不在已同步状态",
    7: "CTP:还没有初始化",
    8: "CTP:前置不活跃",
    35: "CTP:经纪公司正在同步",
    90: "CTP:查询未就绪，请稍后重试",
    154: "CTP:查询核心忙 请稍后重试",
}

# Credential, authorisation and lock errors: never retried (listed for the reader; any ErrorID
# outside TRANSIENT_LOGIN_ERRORS is treated the same way).
PERMANENT_LOGIN_ERRORS: dict[int, str] = {
    3: "CTP:不合法的登录",
    4: "CTP:用户不活跃",
    5: "CTP:重复的登录",
    9: "CTP:无此权限",
    11: "CTP:找不到该用户",
    12: "CTP:找不到该经纪公司",
    13: "CTP:找不到投资者",
    19: "CTP:投资者不活跃",
    48: "CTP:无效的投资者或者密码",
    49: "CTP:不合法的登录IP地址",
    57: "CTP:动态令牌校验错误",
    60: "CTP:用户在线会话超出上限",
    63: "CTP:客户端认证失败",
    64: "CTP:客户端未认证",
    75: "CTP:连续登录失败次数超限，登录被禁止",
    131: "CTP:您当前密码为弱密码，请修改成强密码后重新登录",
    140: "CTP:首次登录必须修改密码，请修改密码后重新登录",
    141: "CTP:您当前密码已过期，请修改后登录",
    143: "CTP:您登录失败次数过多，IP被禁止登入CTP",
    144: "CTP:您当前IP在黑名单中，被禁止登录和认证",
    145: "CTP:终端在本系统没有认证权限",
    3039: "CTP:不支持该API版本",
    4042: "CTP:IP授权验证失败",
    4043: "CTP:用户与客户端授权验证失败",
    4060: "CTP:您认证失败次数过多，IP进入认证禁止列表",
}


def describe_disconnect(reason: int) -> str:
    """'0x1001 network read failed' for a CTP disconnect reason code."""
    return f"0x{reason:04x} {DISCONNECT_REASONS.get(reason, 'unknown reason')}"


def error_id(error: dict[str, Any] | None) -> int:
    """The ErrorID of a CTP error dict (vnpy_ctp passes {} when the front sent no error field)."""
    try:
        return int((error or {}).get("ErrorID") or 0)
    except (TypeError, ValueError):
        return -1


def error_msg(error: dict[str, Any] | None) -> str:
    return str((error or {}).get("ErrorMsg") or "").strip()


def describe_error(error: dict[str, Any]) -> str:
    """'3 CTP:不合法的登录' (the form the gateway state has always shown)."""
    return f"{error.get('ErrorID', '?')} {error.get('ErrorMsg', '')}".strip()


def is_transient_login_error(code: int) -> bool:
    return code in TRANSIENT_LOGIN_ERRORS


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff: first_s, doubling, at most max_s; `attempts` retries in all."""

    first_s: float = 5.0
    max_s: float = 60.0
    attempts: int = 8  # 5+10+20+40+60+60+60+60 s: about 5 minutes of a front restarting

    def delay(self, attempt: int) -> float:
        return float(min(self.first_s * 2 ** (attempt - 1), self.max_s))


class LoginRetry:
    """Counts one API's transient login failures and schedules its next attempt on a timer."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.attempt = 0
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    def schedule(self, action: Callable[[], None]) -> float | None:
        """Run `action` after the next backoff delay and return that delay; None once used up."""
        with self._lock:
            if self.attempt >= self.policy.attempts:
                return None
            self.attempt += 1
            delay = self.policy.delay(self.attempt)
            if self._timer:
                self._timer.cancel()
            self._timer = threading.Timer(delay, action)
            self._timer.daemon = True
            self._timer.start()
            return delay

    def cancel(self) -> None:
        """Drop a pending attempt (the front disconnected: its reconnect logs in by itself)."""
        with self._lock:
            if self._timer:
                self._timer.cancel()
                self._timer = None

    def reset(self) -> None:
        """A login succeeded: the next transient failure starts again from the first delay."""
        self.cancel()
        with self._lock:
            self.attempt = 0

    @property
    def pending(self) -> bool:
        with self._lock:
            return self._timer is not None and self._timer.is_alive()
