"""`python -m web_service.set_password`: set the operator's password (stored as an argon2 hash).

Prompts twice (getpass) on a terminal; reads one line from stdin otherwise (scripts, tests).
Removes a generated initial_password.txt and signs out every open session.
"""

from __future__ import annotations

import getpass
import sys

import redis

from common.config import ConfigError
from common.db import Database, migrate
from web_service.passwords import OperatorStore, check_new_password
from web_service.settings import WebSettings, load_settings


def read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("New operator password: ")
        if getpass.getpass("Repeat it: ") != first:
            raise ValueError("the two passwords differ; nothing changed")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def sign_out_everyone(web: WebSettings) -> int:
    cfg = web.config.redis
    client = redis.Redis(host=cfg.host, port=cfg.port, db=cfg.db, socket_connect_timeout=3,
                         password=web.secrets.redis_password.get_secret_value() or None)
    try:
        found = list(client.scan_iter(match=web.keys.web_session("*"), count=1000))
        return client.delete(*found) if found else 0
    finally:
        client.close()


def main() -> int:
    try:
        web = load_settings()
        password = read_password()
    except (ConfigError, ValueError, EOFError) as exc:
        print(f"set_password: {exc}", file=sys.stderr)
        return 2
    problem = check_new_password(password)
    if problem:
        print(f"set_password: {problem}; nothing changed", file=sys.stderr)
        return 2
    migrate(web.config.mysql, web.secrets)
    db = Database(web.config.mysql, web.secrets, max_connections=1)
    try:
        OperatorStore(db).set_password(password)
    finally:
        db.close()
    web.initial_password_file.unlink(missing_ok=True)
    try:
        signed_out = sign_out_everyone(web)
    except redis.RedisError as exc:
        print(f"set_password: password set, but open sessions could not be signed out ({exc})", file=sys.stderr)
        return 0
    print(f"operator password set (argon2 hash in MySQL table web_operator); {signed_out} session(s) signed out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
