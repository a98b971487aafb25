# Sourced by start.sh, stop.sh and ctl.sh: one private RabbitMQ node for the tests, on loopback only,
# with its own state directory, Erlang cookie and epmd, so it never meets a system broker.
#   MRA_RABBITMQ_PORT       AMQP port on 127.0.0.1 (default 5672)
#   MRA_RABBITMQ_DIR        state directory (default /tmp/mra-rabbitmq-PORT)
#   MRA_RABBITMQ_TLS_PORT   AMQPS port on 127.0.0.1 (default PORT - 1, so 5671), with a self-signed certificate
#   MRA_RABBITMQ_EPMD_PORT  Erlang port mapper, on 127.0.0.1 (default 4371; not the system's 4369)
mra_rmq_port=${MRA_RABBITMQ_PORT:-5672}
mra_rmq_tls_port=${MRA_RABBITMQ_TLS_PORT:-$((mra_rmq_port - 1))}
mra_rmq_dir=${MRA_RABBITMQ_DIR:-/tmp/mra-rabbitmq-$mra_rmq_port}
export HOME="$mra_rmq_dir"
export RABBITMQ_NODENAME="mra$mra_rmq_port@localhost"
export RABBITMQ_USE_LONGNAME=false
export RABBITMQ_CONFIG_FILE="$mra_rmq_dir/rabbitmq.conf"
export RABBITMQ_ENABLED_PLUGINS_FILE="$mra_rmq_dir/enabled_plugins"
export RABBITMQ_MNESIA_BASE="$mra_rmq_dir/mnesia"
export RABBITMQ_LOG_BASE="$mra_rmq_dir/log"
export RABBITMQ_PID_FILE="$mra_rmq_dir/rabbitmq.pid"
export RABBITMQ_DIST_PORT=$((mra_rmq_port + 20000))
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export ERL_EPMD_ADDRESS=127.0.0.1
export ERL_EPMD_PORT=${MRA_RABBITMQ_EPMD_PORT:-4371}
# A node that fails to start writes its crash dump here, not into the working directory.
export ERL_CRASH_DUMP="$mra_rmq_dir/erl_crash.dump"
mra_rmq_bin=/usr/lib/rabbitmq/bin
# What the tests read (EventsTests' broker suite): the URL without password, the password separately.
export MRA_RABBITMQ_URL="amqp://guest@127.0.0.1:$mra_rmq_port/"
export MRA_RABBITMQ_PASSWORD=guest
export MRA_RABBITMQ_TLS_URL="amqps://guest@127.0.0.1:$mra_rmq_tls_port/"
export MRA_RABBITMQ_CA="$mra_rmq_dir/tls/cert.pem"
