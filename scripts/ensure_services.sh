#!/usr/bin/env bash
# Make sure MariaDB (127.0.0.1:3306) and Redis (127.0.0.1:6379) answer: use running ones, else start
# private ones from the installed binaries (data under var/), else install them with apt-get when root.
# With --chromium, also make sure Debian's Chromium is there for the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
MYSQL_PORT=${ARBIG_MYSQL_PORT:-3306}
REDIS_PORT=${ARBIG_REDIS_PORT:-6379}

LOG="$ROOT/var/install.log"  # apt-get's output is appended here (setup_venv.sh starts it)

can_install() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }
# apt_install WHY PACKAGE...: one line on the console, apt-get's output in the log (its tail on failure).
apt_install() {
    local why=$1
    shift
    echo "==> installing $* with apt-get ($why; output in var/install.log)"
    echo "---- apt-get install $*" >>"$LOG"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >>"$LOG" 2>&1 || {
        apt-get update -q >>"$LOG" 2>&1
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >>"$LOG" 2>&1
    } || {
        echo "ERROR: apt-get install $* failed. Last lines of var/install.log:" >&2
        tail -n 15 "$LOG" | sed 's/^/    /' >&2
        return 1
    }
}

mysql_up() {
    "$ROOT/.venv/bin/python" - "$MYSQL_PORT" <<'PY' 2>/dev/null
import sys, pymysql
pymysql.connect(host="127.0.0.1", port=int(sys.argv[1]), user="root", password="", connect_timeout=2).close()
PY
}

redis_up() {
    "$ROOT/.venv/bin/python" - "$REDIS_PORT" <<'PY' 2>/dev/null
import sys, redis
redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), socket_connect_timeout=2).ping()
PY
}

wait_for() {
    local what=$1 check=$2
    for _ in $(seq 1 60); do
        if $check; then return 0; fi
        sleep 0.5
    done
    echo "ERROR: $what did not come up; see var/ for its log" >&2
    exit 1
}

ensure_mysql() {
    if mysql_up; then echo "==> MariaDB: using the server on 127.0.0.1:$MYSQL_PORT"; return; fi
    if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
        if can_install; then apt_install "MariaDB, for the records" mariadb-server; else
            echo "ERROR: MariaDB is not running on 127.0.0.1:$MYSQL_PORT and not installed; install mariadb-server (apt-get install mariadb-server) or start it." >&2
            exit 1
        fi
    fi
    local mariadbd; mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)
    local data="$ROOT/var/mariadb"
    mkdir -p "$data"
    if [ ! -d "$data/mysql" ]; then
        echo "==> initialising a private MariaDB data folder in var/mariadb"
        mariadb-install-db --no-defaults --datadir="$data" --auth-root-authentication-method=normal \
            --user="$(id -un)" >/dev/null
    fi
    echo "==> starting a private MariaDB on 127.0.0.1:$MYSQL_PORT"
    nohup "$mariadbd" --no-defaults --datadir="$data" --port="$MYSQL_PORT" --bind-address=127.0.0.1 \
        --socket="$data/mysqld.sock" --pid-file="$data/mysqld.pid" --user="$(id -un)" \
        >"$ROOT/var/mariadb.log" 2>&1 &
    wait_for MariaDB mysql_up
}

ensure_redis() {
    if redis_up; then echo "==> Redis: using the server on 127.0.0.1:$REDIS_PORT"; return; fi
    if ! command -v redis-server >/dev/null 2>&1; then
        if can_install; then apt_install "Redis, for live state and commands" redis-server; else
            echo "ERROR: Redis is not running on 127.0.0.1:$REDIS_PORT and not installed; install redis-server or start it." >&2
            exit 1
        fi
    fi
    mkdir -p "$ROOT/var"
    echo "==> starting a private Redis on 127.0.0.1:$REDIS_PORT"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
        --dir "$ROOT/var" --logfile "$ROOT/var/redis.log" >/dev/null
    wait_for Redis redis_up
}

ensure_chromium() {
    # A CJK font so the Chinese labels render in the browser tests' screenshots (best effort).
    if can_install && ! fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk"; then
        apt_install "a CJK font for the screenshots" fonts-wqy-microhei || echo "note: could not install a CJK font; screenshots show boxes"
    fi
    if [ -x /usr/bin/chromium ]; then return; fi
    if can_install; then apt_install "the browser for the browser tests" chromium; else
        echo "ERROR: browser tests need Debian's chromium (/usr/bin/chromium): apt-get install chromium" >&2
        exit 1
    fi
}

mkdir -p var
ensure_mysql
ensure_redis
if [ "${1:-}" = "--chromium" ]; then ensure_chromium; fi
