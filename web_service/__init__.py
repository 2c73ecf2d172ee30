"""The ARBIG web service: FastAPI pages, JSON API and WebSocket push for the single operator.

Reads the core's live state and ticks from Redis (keys from `common.contract.Keys`), history from
MySQL, and sends operator commands to the core through the Redis command list.
"""
