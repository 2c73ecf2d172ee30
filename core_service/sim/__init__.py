"""Simulated SHFE gold gateway for vnpy: random-walk or replayed ticks, exchange-like matching and account."""

from .gateway import SimGateway

__all__ = ["SimGateway"]
