#!/usr/bin/env bash
# Starts the tests' private RabbitMQ node on 127.0.0.1 (idempotent: a running node is left as it is) and waits
# until it accepts AMQP. Exits non-zero, with the node's log tail, when it cannot start.
# Prints the lines to `eval` for the tests: MRA_RABBITMQ_URL, MRA_RABBITMQ_PASSWORD, MRA_RABBITMQ_CTL.
#   scripts/rabbitmq/start.sh        (see env.sh for the settings)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/env.sh"
if [ ! -x "$mra_rmq_bin/rabbitmq-server" ]; then
    echo "rabbitmq: $mra_rmq_bin/rabbitmq-server not found; install it: apt-get install rabbitmq-server (scripts/setup-deps.sh)" >&2
    exit 1
fi
print_env() {
    echo "export MRA_RABBITMQ_URL=$MRA_RABBITMQ_URL MRA_RABBITMQ_PASSWORD=$MRA_RABBITMQ_PASSWORD MRA_RABBITMQ_CTL=$here/ctl.sh"
    echo "export MRA_RABBITMQ_TLS_URL=$MRA_RABBITMQ_TLS_URL MRA_RABBITMQ_CA=$MRA_RABBITMQ_CA"
}
if "$mra_rmq_bin/rabbitmqctl" -q ping >/dev/null 2>&1; then
    print_env
    exit 0
fi
mkdir -p "$mra_rmq_dir/log" "$mra_rmq_dir/mnesia"
chmod 700 "$mra_rmq_dir"
# A self-signed certificate for 127.0.0.1 (its own CA) for the amqps listener.
if [ ! -s "$mra_rmq_dir/tls/cert.pem" ]; then
    mkdir -p "$mra_rmq_dir/tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=127.0.0.1" \
        -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -addext "basicConstraints=critical,CA:TRUE" \
        -keyout "$mra_rmq_dir/tls/key.pem" -out "$mra_rmq_dir/tls/cert.pem" >/dev/null 2>&1
fi
cat > "$RABBITMQ_CONFIG_FILE" <<CONF
listeners.tcp.default = 127.0.0.1:$mra_rmq_port
listeners.ssl.default = 127.0.0.1:$mra_rmq_tls_port
ssl_options.certfile = $mra_rmq_dir/tls/cert.pem
ssl_options.keyfile = $mra_rmq_dir/tls/key.pem
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
loopback_users.guest = true
disk_free_limit.absolute = 20MB
log.console = false
log.file.level = info
CONF
echo "[]." > "$RABBITMQ_ENABLED_PLUGINS_FILE"
setsid "$mra_rmq_bin/rabbitmq-server" > "$mra_rmq_dir/log/startup.log" 2>&1 < /dev/null &
server=$!
# The node registers with epmd after a few seconds; await_startup then waits for the AMQP listener.
ready=""
for _ in $(seq 1 90); do
    if ! kill -0 "$server" 2>/dev/null; then break; fi
    if "$mra_rmq_bin/rabbitmqctl" -q await_startup --timeout 5 >/dev/null 2>&1; then ready=1; break; fi
    sleep 1
done
if [ -z "$ready" ]; then
    echo "rabbitmq: the node did not start (within 90 s); the end of its log ($mra_rmq_dir/log):" >&2
    tail -n 30 "$mra_rmq_dir/log/startup.log" >&2 || true
    exit 1
fi
print_env
