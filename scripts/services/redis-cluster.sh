#!/usr/bin/env bash
# A throwaway 3-master Redis Cluster on 127.0.0.1 (Debian's redis-server), for tests.
#
#   redis-cluster.sh start            create it unless already healthy (idempotent)
#   redis-cluster.sh stop             shut every node down (no save)
#   redis-cluster.sh status           print the state; exit 0 only if healthy
#   redis-cluster.sh stop-node PORT   kill one node (fault tests); keeps its nodes.conf
#   redis-cluster.sh start-node PORT  restart that node with its nodes.conf; waits until
#                                     the cluster is ok again if every node is up
#
# Ports: ${REDIS_CLUSTER_PORTS:-7001 7002 7003}. State: $STATE/redis-cluster.
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

read -r -a PORTS <<<"${REDIS_CLUSTER_PORTS:-7001 7002 7003}"
DIR="$STATE/redis-cluster"
HOST=127.0.0.1
OK_TIMEOUT="${REDIS_CLUSTER_TIMEOUT:-30}"
mkdir -p "$DIR"

command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 \
    || die "redis-server/redis-cli not found (run scripts/services/install-system.sh)"

rcli() { redis-cli -h "$HOST" -p "$1" "${@:2}"; }

node_up() { [[ "$(rcli "$1" ping 2>/dev/null || true)" == "PONG" ]]; }

node_ok() {
    # cluster_state:ok and it knows every node of the cluster.
    local info
    info="$(rcli "$1" cluster info 2>/dev/null | tr -d '\r' || true)"
    [[ "$info" == *"cluster_state:ok"* ]] \
        && [[ "$info" == *"cluster_known_nodes:${#PORTS[@]}"* ]] \
        && [[ "$info" == *"cluster_slots_assigned:16384"* ]]
}

healthy() {
    local p
    for p in "${PORTS[@]}"; do node_ok "$p" || return 1; done
}

start_node() {
    local p="$1"
    node_up "$p" && return 0
    port_open "$p" && die "port $p is taken by something that is not a Redis node"
    redis-server --port "$p" --bind "$HOST" --cluster-enabled yes \
        --cluster-config-file "$DIR/nodes-$p.conf" --dir "$DIR" \
        --save '' --appendonly no --daemonize yes --cluster-node-timeout 2000 \
        --pidfile "$DIR/redis-$p.pid" --logfile "$DIR/$p.log" \
        || die "redis-server on port $p failed to start (see $DIR/$p.log)"
}

stop_node() {
    local p="$1"
    if node_up "$p"; then
        # Redis 7 spells "shutdown nowait" as NOW; NOSAVE: we never persist anyway.
        rcli "$p" shutdown nosave now >/dev/null 2>&1 || true
        if ! wait_for_port_closed "$p" 5 2>/dev/null; then
            local pid
            pid="$(cat "$DIR/redis-$p.pid" 2>/dev/null || true)"
            [[ -n "$pid" ]] && kill -9 "$pid" 2>/dev/null || true
            wait_for_port_closed "$p" 5 || die "node $p did not stop"
        fi
    fi
}

wait_ok() {
    local deadline=$((SECONDS + OK_TIMEOUT))
    until healthy; do
        if ((SECONDS >= deadline)); then
            log "cluster not ok after ${OK_TIMEOUT}s:"
            rcli "${PORTS[0]}" cluster info 2>&1 | head -n 7 >&2 || true
            return 1
        fi
        sleep 0.2
    done
}

cmd="${1:-start}"
case "$cmd" in
start)
    if healthy; then
        exit 0
    fi
    log "creating Redis Cluster on ports ${PORTS[*]}"
    for p in "${PORTS[@]}"; do stop_node "$p"; done
    rm -f "$DIR"/nodes-*.conf "$DIR"/*.log "$DIR"/redis-*.pid "$DIR"/dump.rdb
    for p in "${PORTS[@]}"; do start_node "$p"; done
    for p in "${PORTS[@]}"; do wait_for_port "$p" 10 || die "node $p not listening"; done
    addrs=()
    for p in "${PORTS[@]}"; do addrs+=("$HOST:$p"); done
    redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes \
        >"$DIR/create.log" 2>&1 \
        || { cat "$DIR/create.log" >&2; die "redis-cli --cluster create failed"; }
    wait_ok || die "cluster did not reach cluster_state:ok"
    log "Redis Cluster ok on ports ${PORTS[*]}"
    ;;
stop)
    for p in "${PORTS[@]}"; do stop_node "$p"; done
    ;;
status)
    for p in "${PORTS[@]}"; do
        if node_up "$p"; then
            state="$(rcli "$p" cluster info 2>/dev/null | tr -d '\r' | sed -n 's/^cluster_state://p')"
            echo "redis-cluster: node $HOST:$p up, cluster_state:${state:-?}"
        else
            echo "redis-cluster: node $HOST:$p down"
        fi
    done
    healthy
    ;;
stop-node)
    [[ $# -ge 2 ]] || die "usage: $0 stop-node PORT"
    stop_node "$2"
    ;;
start-node)
    [[ $# -ge 2 ]] || die "usage: $0 start-node PORT"
    [[ -f "$DIR/nodes-$2.conf" ]] || die "no $DIR/nodes-$2.conf: run '$0 start' first"
    start_node "$2"
    wait_for_port "$2" 10 || die "node $2 not listening"
    all_up=1
    for p in "${PORTS[@]}"; do node_up "$p" || all_up=0; done
    if ((all_up)); then
        wait_ok || die "cluster did not recover after restarting node $2"
    fi
    ;;
*)
    die "usage: $0 start|stop|status|stop-node PORT|start-node PORT"
    ;;
esac
