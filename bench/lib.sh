# shellcheck shell=bash
# Helpers shared by bench/run and bench/reliability; sourced, not run.
# Everything started here listens on 127.0.0.1 only, every load is bounded in time by wrk's -d, and every server
# this file starts is stopped on exit (see cleanup).

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
SERVER_DIR="$ROOT/src/Tollgate.Server"
SERVER_DLL=${SERVER_DLL:-$SERVER_DIR/bin/Release/net10.0/Tollgate.Server.dll}
BASELINE_DLL=${BASELINE_DLL:-$BENCH_DIR/Baseline/bin/Release/net10.0/Tollgate.Bench.Baseline.dll}
PLAIN_YARP_DLL=${PLAIN_YARP_DLL:-$BENCH_DIR/PlainYarp/bin/Release/net10.0/Tollgate.Bench.PlainYarp.dll}
BENCHMARKS_DLL=${BENCHMARKS_DLL:-$BENCH_DIR/Tollgate.Benchmarks/bin/Release/net10.0/Tollgate.Benchmarks.dll}
ADMIN_PASSWORD="bench-$$-$RANDOM$RANDOM"
# A quota no run can reach (the admin API's maximum): every request is admitted, counted and logged.
BENCH_QUOTA=1000000000000

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-bench.XXXXXX")
STARTED=()
# The pid of each server by the name it was started with, for its CPU per request.
declare -A PIDS=()
USED_PORTS=" "

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Has the process exited (gone, or a zombie waiting to be reaped)?
exited() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 0
  [ -z "$state" ] || [ "$state" = Z ]
}

# wait_exit PID SECONDS: waits for a child to exit, reaps it; non-zero when it still runs after SECONDS.
wait_exit() {
  local pid=$1 deadline=$((SECONDS + $2))
  while ! exited "$pid"; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.1
  done
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local pid
  for pid in "${STARTED[@]}"; do
    exited "$pid" || kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED[@]}"; do
    wait_exit "$pid" 30 || { kill -KILL "$pid" 2>/dev/null || true; wait_exit "$pid" 5 || true; }
  done
  if [ "${KEEP_WORK:-0}" = 1 ]; then log "work files kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Installs wrk and the sqlite3 shell from Debian's packages where missing.
need_tools() {
  local missing=()
  command -v wrk >/dev/null || missing+=(wrk)
  command -v sqlite3 >/dev/null || missing+=(sqlite3)
  command -v curl >/dev/null || missing+=(curl)
  command -v redis-server >/dev/null || missing+=(redis-server)
  [ "${NEED_NGINX:-0}" = 1 ] && { command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx); }
  if [ "${NEED_DATABASES:-0}" = 1 ]; then
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
    command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
  fi
  [ ${#missing[@]} -eq 0 ] && return
  log "installing ${missing[*]} (apt-get)"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Release build of the server, the baseline and the benchmark project (skipped with NO_BUILD=1).
build_release() {
  [ "${NO_BUILD:-0}" = 1 ] && return
  log "building Release"
  local project
  for project in "$SERVER_DIR/Tollgate.Server.csproj" "$BENCH_DIR/Baseline/Baseline.csproj" "$BENCH_DIR/PlainYarp/PlainYarp.csproj" \
                 "$BENCH_DIR/Tollgate.Benchmarks/Tollgate.Benchmarks.csproj"; do
    dotnet build -c Release --nologo -v q "$project" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; die "build failed: $project"; }
  done
}

# A loopback port nobody listens on and this run has not handed out yet, below the kernel's ephemeral range: a port
# in that range can be taken by a client socket while a server restarts (wrk reconnecting to a closed port can even
# connect to itself), and the restarted server would then fail with "address already in use".
free_port() {
  local port _ low
  low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  [ "$low" -gt 11000 ] || die "the ephemeral port range starts at $low: no room below it for the servers"
  for _ in $(seq 200); do
    port=$((10000 + RANDOM % (low - 10000)))
    case "$USED_PORTS" in *" $port "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      USED_PORTS+="$port "
      echo "$port"
      return
    fi
  done
  die "no free loopback port"
}

# wait_http URL SECONDS
wait_http() {
  local deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.2
  done
}

# start_tollgate NAME DB PORT [SETTING...]: starts the Release server on its own SQLite file (DB a path) or on a
# server database (DB 'Postgres=CONNECTION' or 'MySql=CONNECTION'), with any further
# command-line settings (e.g. --Tollgate:Redis=…); sets SERVER_PID.
# The content root is the project folder, as with `dotnet run --project src/Tollgate.Server`.
start_tollgate() {
  local name=$1 db=$2 port=$3 provider=Sqlite connection="Data Source=$2" spool="$2.spool"
  shift 3
  case "$db" in Postgres=* | MySql=*) provider=${db%%=*} connection=${db#*=} spool="$WORK/$name.spool" ;; esac
  (cd "$SERVER_DIR" && ASPNETCORE_ENVIRONMENT=Production DOTNET_ENVIRONMENT=Production exec dotnet "$SERVER_DLL" \
      --urls "http://127.0.0.1:$port" \
      "--Tollgate:Database:Provider=$provider" "--ConnectionStrings:Tollgate=$connection" \
      "--Tollgate:Admin:Password=$ADMIN_PASSWORD" "--Tollgate:Usage:SpoolPath=$spool" "$@") >>"$WORK/$name.log" 2>&1 &
  SERVER_PID=$!
  STARTED+=("$SERVER_PID")
  PIDS[$name]=$SERVER_PID
  wait_http "http://127.0.0.1:$port/healthz" 90 || { tail -20 "$WORK/$name.log" >&2; die "$name did not start"; }
}

# as_user USER PROGRAM ARGS...: runs (execs) a database server's program as its system user when we are root (the
# servers refuse root); as ourselves otherwise. setpriv execs, so $! of a background call is the server's own pid.
as_user() {
  local user=$1
  shift
  if [ "$(id -u)" -eq 0 ]; then exec setpriv "--reuid=$user" "--regid=$user" --init-groups -- "$@"; else exec "$@"; fi
}

# start_postgres NAME: a throw-away PostgreSQL cluster in the work folder (initdb, then postgres on a free loopback
# port) with databases 'tollgate' and 'ingest'; sets PG_CONNECTION (to 'tollgate'). Stock durability settings (fsync on, synchronous_commit on), as a
# production server would have them.
start_postgres() {
  local name=$1 bin dir port
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  dir="$WORK/$name"
  mkdir -p "$dir"
  # mktemp made the work folder private; the server's user must be able to reach its own folder inside.
  chmod a+x "$WORK"
  [ "$(id -u)" -eq 0 ] && chown -R postgres: "$dir"
  (as_user postgres "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale) >>"$WORK/$name.log" 2>&1 \
    || { tail -20 "$WORK/$name.log" >&2; die "initdb failed"; }
  port=$(free_port)
  PG_BIN=$bin PG_DIR=$dir PG_PORT=$port PG_NAME=$name
  run_postgres
  psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -qc 'CREATE DATABASE tollgate' -c 'CREATE DATABASE ingest' >/dev/null
  PG_CONNECTION="Host=127.0.0.1;Port=$port;Username=postgres;Database=tollgate"
}

# run_postgres: starts (or starts again, on the same port and files) the cluster of the last start_postgres; sets
# PG_PID and waits until it answers. Stop it with stop_server or a fast shutdown: kill -INT "$PG_PID".
run_postgres() {
  (as_user postgres "$PG_BIN/postgres" -D "$PG_DIR/data" -p "$PG_PORT" -c listen_addresses=127.0.0.1 \
      -c "unix_socket_directories=$PG_DIR" -c max_connections=200) >>"$WORK/$PG_NAME.log" 2>&1 &
  PG_PID=$!
  STARTED+=("$PG_PID")
  local deadline=$((SECONDS + 60))
  until psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qAtc 'SELECT 1' >/dev/null 2>&1; do
    [ "$SECONDS" -ge "$deadline" ] && { tail -20 "$WORK/$PG_NAME.log" >&2; die "$PG_NAME did not start"; }
    sleep 0.2
  done
}

# start_mariadb NAME: a throw-away MariaDB server in the work folder (mariadb-install-db, then mariadbd on a free
# loopback port) with databases 'tollgate' and 'ingest' and a TCP user; sets MYSQL_CONNECTION (to 'tollgate'). Stock durability settings
# (innodb_flush_log_at_trx_commit=1, doublewrite on); a 256 MB buffer pool.
start_mariadb() {
  local name=$1 dir port server install user=() password="bench$RANDOM$RANDOM"
  server=$(command -v mariadbd || echo /usr/sbin/mariadbd)
  install=$(command -v mariadb-install-db || echo /usr/bin/mariadb-install-db)
  dir="$WORK/$name"
  mkdir -p "$dir/data"
  chmod a+x "$WORK"
  if [ "$(id -u)" -eq 0 ]; then chown -R mysql: "$dir"; user=(--user=mysql); fi
  # Runs on every start with full rights: the TCP user Tollgate logs in with, and its database.
  cat >"$dir/init.sql" <<SQL
CREATE USER IF NOT EXISTS 'tollgate'@'127.0.0.1' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON *.* TO 'tollgate'@'127.0.0.1';
CREATE DATABASE IF NOT EXISTS tollgate;
CREATE DATABASE IF NOT EXISTS ingest;
SQL
  "$install" --no-defaults "--datadir=$dir/data" --auth-root-authentication-method=normal --skip-test-db \
      --skip-name-resolve "${user[@]}" >>"$WORK/$name.log" 2>&1 || { tail -20 "$WORK/$name.log" >&2; die "mariadb-install-db failed"; }
  port=$(free_port)
  "$server" --no-defaults "--datadir=$dir/data" "--port=$port" --bind-address=127.0.0.1 "--socket=$dir/mysqld.sock" \
      "--pid-file=$dir/mysqld.pid" "--init-file=$dir/init.sql" --skip-name-resolve \
      --character-set-server=utf8mb4 --innodb-buffer-pool-size=256M --max-connections=200 "${user[@]}" \
      >>"$WORK/$name.log" 2>&1 &
  STARTED+=("$!")
  local deadline=$((SECONDS + 60))
  until mariadb --no-defaults --protocol=tcp -h 127.0.0.1 -P "$port" -u tollgate "-p$password" -e 'SELECT 1' tollgate >/dev/null 2>&1; do
    [ "$SECONDS" -ge "$deadline" ] && { tail -20 "$WORK/$name.log" >&2; die "$name did not start"; }
    sleep 0.2
  done
  MYSQL_CONNECTION="Server=127.0.0.1;Port=$port;User ID=tollgate;Password=$password;Database=tollgate"
}

# start_baseline NAME PORT [SETTING...]: sets SERVER_PID.
start_baseline() {
  local name=$1 port=$2
  shift 2
  (ASPNETCORE_ENVIRONMENT=Production DOTNET_ENVIRONMENT=Production exec dotnet "$BASELINE_DLL" \
      --urls "http://127.0.0.1:$port" "$@") >>"$WORK/$name.log" 2>&1 &
  SERVER_PID=$!
  STARTED+=("$SERVER_PID")
  PIDS[$name]=$SERVER_PID
  wait_http "http://127.0.0.1:$port/api/v1/ping" 60 || { tail -20 "$WORK/$name.log" >&2; die "$name did not start"; }
}

# start_plain_yarp NAME PORT ROUTE_SETTING...: YARP alone (bench/PlainYarp) with the given ReverseProxy settings.
start_plain_yarp() {
  local name=$1 port=$2
  shift 2
  (ASPNETCORE_ENVIRONMENT=Production DOTNET_ENVIRONMENT=Production exec dotnet "$PLAIN_YARP_DLL" \
      --urls "http://127.0.0.1:$port" "$@") >>"$WORK/$name.log" 2>&1 &
  SERVER_PID=$!
  STARTED+=("$SERVER_PID")
  wait_http "http://127.0.0.1:$port/upstream/api/v1/ping" 60 || { tail -20 "$WORK/$name.log" >&2; die "$name did not start"; }
}

# process_ticks PID: CPU ticks (1/100 s, user + system) used so far by PID and its children (nginx's workers).
process_ticks() {
  local total child
  total=$(awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0)
  for child in $(pgrep -P "$1" 2>/dev/null); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$child/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}

# Peak resident memory (VmHWM) of a running process, in kB.
peak_rss_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# rss_kb PID: the resident memory now (kB).
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# stop_server NAME PID [SIGNAL]: records the peak RSS in $WORK/rss.txt, stops, waits (30 s at most).
stop_server() {
  local name=$1 pid=$2 signal=${3:-TERM}
  echo "$name $(peak_rss_kb "$pid")" >>"$WORK/rss.txt"
  kill "-$signal" "$pid" 2>/dev/null || true
  wait_exit "$pid" 30 || die "$name (pid $pid) did not stop within 30 s of SIG$signal"
}

# admin_login PORT: the admin session cookie ("tollgate_session=...") on stdout.
admin_login() {
  local jar="$WORK/cookies-$1.txt"
  curl -fsS --max-time 30 -c "$jar" -H 'Content-Type: application/json' \
      -d "{\"username\":\"admin\",\"password\":\"$ADMIN_PASSWORD\"}" \
      "http://127.0.0.1:$1/api/auth/login" >/dev/null || die "admin login failed on port $1"
  awk '$6 == "tollgate_session" {print $6 "=" $7}' "$jar"
}

# api_post PORT COOKIE PATH JSON: the answer's body on stdout; dies on an error status.
api_post() {
  curl -fsS --max-time 30 -H "Cookie: $2" -H 'Content-Type: application/json' -d "$4" "http://127.0.0.1:$1$3" \
    || die "POST $3 failed on port $1"
}

# json_field JSON NAME: a top-level number or string member (enough for the admin API's flat answers).
json_field() { sed -nE "s/.*\"$2\":\"?([^\",}]*).*/\1/p" <<<"$1" | head -1; }

# create_bench_tenant PORT NAME: plan 'Bench' (huge monthly quota, no rate), the tenant and a key through the
# admin API; the key on stdout.
create_bench_tenant() {
  local port=$1 name=$2 cookie plan tenant key
  cookie=$(admin_login "$port")
  plan=$(api_post "$port" "$cookie" /api/admin/plans \
      "{\"name\":\"Bench\",\"quota\":{\"limit\":$BENCH_QUOTA,\"period\":\"Month\"},\"rate\":null}")
  tenant=$(api_post "$port" "$cookie" /api/admin/tenants "{\"name\":\"$name\",\"planId\":$(json_field "$plan" id)}")
  key=$(api_post "$port" "$cookie" "/api/admin/tenants/$(json_field "$tenant" id)/keys" '{"name":"bench"}')
  json_field "$key" key
}

# Ticks (1/100 s) the machine has spent busy, and in all, over all cores since boot.
machine_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat; }

# Ticks used so far by the servers this run started and still runs.
servers_ticks() {
  local pid child total=0
  for pid in "${STARTED[@]}"; do
    exited "$pid" && continue
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
    # PostgreSQL serves each connection in a child process of the postmaster.
    for child in $(pgrep -P "$pid" 2>/dev/null); do
      total=$((total + $(awk '{print $14 + $15}' "/proc/$child/stat" 2>/dev/null || echo 0)))
    done
  done
  echo "$total"
}

# Sets CHILD_TICKS to the ticks used by this shell's finished children (wrk, once waited for), from the `times`
# builtin. It must run in the shell that ran wrk: redirected, not piped or substituted, since a subshell has no
# children of its own yet.
children_ticks() {
  local file="$WORK/times.$BASHPID"
  times >"$file"
  CHILD_TICKS=$(awk 'NR == 2 {t = 0; for (i = 1; i <= 2; i++) {split($i, p, "m"); sub(/s$/, "", p[2]); t += p[1] * 60 + p[2]}
      printf "%d", t * 100}' "$file")
}

# Ticks (1/100 s) of user and system CPU one process has used so far.
process_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# Ticks of a process and its children: nginx's master does none of the proxying, its workers (children) do.
tree_ticks() {
  local total child
  total=$(process_ticks "$1")
  for child in $(pgrep -P "$1"); do total=$((total + $(process_ticks "$child"))); done
  echo "$total"
}

# run_wrk URL SECONDS [CONNECTIONS] [THREADS]: the WRK line of bench/wrk/report.lua on stdout, plus other=N: the
# percentage of the machine that processes other than wrk and this run's servers used meanwhile (someone else's
# build, say), so that a disturbed run can be told from a slow server. The key or cookie comes from TG_API_KEY /
# TG_COOKIE in the environment. With MEASURE_PID set, also cpu_us=N: that server's CPU time (user + system, from
# /proc/PID/stat) per request answered, which does not depend on wrk sharing the cores the way req/s does.
run_wrk() {
  local out machine0 machine1 servers0 servers1 wrk0 wrk1 pid0=0 pid1=0
  [ -n "${MEASURE_PID:-}" ] && pid0=$(process_ticks "$MEASURE_PID")
  machine0=$(machine_ticks); servers0=$(servers_ticks); children_ticks; wrk0=$CHILD_TICKS
  out=$(wrk -t"${4:-$THREADS}" -c"${3:-$CONNECTIONS}" -d"${2}s" --timeout 10s -s "${WRK_SCRIPT:-$BENCH_DIR/wrk/report.lua}" "$1" 2>&1) \
    || { echo "$out" >&2; die "wrk failed on $1"; }
  machine1=$(machine_ticks); servers1=$(servers_ticks); children_ticks; wrk1=$CHILD_TICKS
  [ -n "${MEASURE_PID:-}" ] && pid1=$(process_ticks "$MEASURE_PID")
  local other cpu=""
  other=$(awk -v m0="$machine0" -v m1="$machine1" -v s=$((servers1 - servers0)) -v w=$((wrk1 - wrk0)) 'BEGIN {
    split(m0, a, " "); split(m1, b, " "); total = b[2] - a[2]; busy = b[1] - a[1] - s - w;
    printf "%d", (total > 0 && busy > 0 ? 100 * busy / total : 0)}')
  local line
  line=$(grep '^WRK ' <<<"$out" | tail -1)
  if [ -n "${MEASURE_PID:-}" ]; then
    cpu=" cpu_us=$(awk -v t=$((pid1 - pid0)) -v n="$(field "$line" requests)" 'BEGIN {printf "%.1f", (n > 0 ? t * 10000 / n : 0)}')"
  fi
  echo "$line other=$other$cpu"
}

# jit_seconds URL: the seconds the server behind URL has spent in its JIT compiler so far, from its /metrics
# (dotnet_jit_compilation_time_seconds_total, the runtime's own counter); empty for a server without one (the
# baseline, plain YARP, nginx).
# It never fails: awk reads to the end (an early exit made curl fail with "failed writing body", which pipefail and
# set -e turned into the end of the whole run), and a server that does not answer gives an empty reading.
jit_seconds() {
  { curl -s --max-time 5 "$(sed -E 's#^(https?://[^/]+).*#\1#' <<<"$1")/metrics" 2>/dev/null || true; } \
    | awk '/^dotnet_jit_compilation_time_seconds_total[{ ]/ && v == "" {v = $2} END {if (v != "") print v}'
}

# jit_round KEY BEFORE URL: stores KEY (ms) = the JIT time of URL's server since BEFORE (a jit_seconds reading), when
# both readings exist; a round that still compiles measures the warm-up, not the server.
jit_round() {
  local after
  after=$(jit_seconds "$3")
  [ -n "$2" ] && [ -n "$after" ] && put "$1" "$(calc '%.0f' "($after - $2) * 1000")"
  true
}

# jit_note KEY: ", JIT N ms" for a log line when KEY was stored, else nothing.
jit_note() { [ -n "$(get "$1")" ] && echo ", JIT $(get "$1") ms"; true; }

# field LINE NAME: the value of NAME=value in a WRK/INGEST line.
field() { sed -nE "s/.*(^| )$2=([^ ]*).*/\2/p" <<<"$1"; }

# sql DB STATEMENT: one value from the sqlite3 shell.
sql() { sqlite3 -cmd '.timeout 30000' "$1" "$2"; }

# checkpoint DB: folds the WAL into the main file so the file alone can be copied.
checkpoint() { sql "$1" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null; }

# median of the numbers on stdin.
median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# busy_percent SECONDS: how busy the whole machine is (all cores, percent) over that many seconds.
busy_percent() {
  local a b
  a=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat)
  sleep "$1"
  b=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN {split(a, x, " "); split(b, y, " "); t = y[2] - x[2]; printf "%d", (t > 0 ? 100 * (y[1] - x[1]) / t : 0)}'
}

# wait_quiet: called while this run's servers are idle, so what keeps the machine busy is someone else's work.
# Waits (at most QUIET_WAIT seconds, default 20; 0 skips) until the machine is less than QUIET_PERCENT (default 25)
# busy, and prints how busy it was when the wait ended.
wait_quiet() {
  local deadline=$((SECONDS + ${QUIET_WAIT:-20})) busy
  busy=$(busy_percent 2)
  while [ "$busy" -ge "${QUIET_PERCENT:-25}" ] && [ "$SECONDS" -lt "$deadline" ]; do
    log "machine ${busy}% busy with other work; waiting for it to calm down (at most until +$((deadline - SECONDS)) s)"
    busy=$(busy_percent 3)
  done
  echo "$busy"
}

# Floating-point arithmetic and formatting: calc '%.2f' 'a / b'.
calc() { awk "BEGIN {printf \"$1\", $2}"; }
