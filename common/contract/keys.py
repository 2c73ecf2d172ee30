"""Every Redis key (the layout is in the package's doc): the only place a key is spelled."""

from __future__ import annotations


class Keys:
    """Every Redis key, built from one prefix."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix

    def tick_stream(self, symbol: str) -> str:
        return f"{self.prefix}market_data:{symbol}"

    def tick_stream_pattern(self) -> str:
        return f"{self.prefix}market_data:*"

    def symbol_of_stream(self, key: str) -> str:
        return key[len(self.prefix) + len("market_data:"):]

    @property
    def heartbeat(self) -> str:
        return f"{self.prefix}arbig:heartbeat"

    @property
    def account(self) -> str:
        return f"{self.prefix}arbig:state:account"

    @property
    def positions(self) -> str:
        return f"{self.prefix}arbig:state:positions"

    @property
    def orders(self) -> str:
        return f"{self.prefix}arbig:state:orders"

    @property
    def strategies(self) -> str:
        return f"{self.prefix}arbig:state:strategies"

    @property
    def contracts(self) -> str:
        return f"{self.prefix}arbig:state:contracts"

    @property
    def main_contract(self) -> str:
        return f"{self.prefix}arbig:state:main_contract"

    @property
    def ai_state(self) -> str:
        """AiState JSON (common/contract/ai.py), written by the core on every change and each heartbeat."""
        return f"{self.prefix}arbig:state:ai"

    @property
    def events(self) -> str:
        return f"{self.prefix}arbig:events"

    @property
    def commands(self) -> str:
        return f"{self.prefix}arbig:commands"

    def reply(self, command_id: str) -> str:
        return f"{self.prefix}arbig:reply:{command_id}"

    def command_seen(self, command_id: str) -> str:
        return f"{self.prefix}arbig:cmd_seen:{command_id}"

    def core_lease(self, account: str) -> str:
        """Held by the one core trading `account` (see core_service/instance_lock.py)."""
        return f"{self.prefix}arbig:core_lease:{account}"

    # web service (sessions and login throttling live in Redis too)
    def web_session(self, token_hash: str) -> str:
        return f"{self.prefix}arbig:web:session:{token_hash}"

    def login_failures(self, client: str) -> str:
        return f"{self.prefix}arbig:web:login_failures:{client}"

    def all_patterns(self) -> list[str]:
        """Patterns covering every key this prefix owns (used by tests to clean up)."""
        return [f"{self.prefix}market_data:*", f"{self.prefix}arbig:*"]


def position_field(vt_symbol: str, direction: str) -> str:
    return f"{vt_symbol}|{direction}"
