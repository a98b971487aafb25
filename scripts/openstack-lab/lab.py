#!/usr/bin/env python3
"""A real Keystone 30 and a real neutron-server 29 on 127.0.0.1, with SQLite, for integration tests.

Run with the lab venv's interpreter (setup.sh creates it):

    lab.py start [--dir DIR]   configure, initialise and start both servers, register the network
                               service, create an application credential and a topology; prints the
                               path of DIR/lab.env (shell syntax) and writes DIR/topology.json
    lab.py stop DIR            stop the servers started by `start` and remove DIR
    lab.py read ENV_FILE       cross-check: the agent's four list requests, paginated; prints counts
    lab.py scale ENV_FILE N    add N routers (gateway + one tenant subnet each) to a running lab
    lab.py serve NAME PORT     (internal) serve one WSGI application with gunicorn on 127.0.0.1:PORT

Every process binds 127.0.0.1 only; all state (configs, keys, SQLite databases, logs) is in DIR.

With MRA_LAB_RABBITMQ_CTL set (the rabbitmqctl front of a running broker: scripts/rabbitmq/ctl.sh), Neutron
sends its notifications there: `start` creates a vhost and a user of its own for this lab on that broker
(port MRA_LAB_RABBITMQ_PORT, default 5672), sets `transport_url = rabbit://…@127.0.0.1:PORT/VHOST` and
`[oslo_messaging_notifications] driver = messagingv2`, and checks with a consumer of its own that creating the
topology published `router.interface.create` on exchange `neutron`; `stop` deletes the vhost and the user.
Without it Neutron keeps `transport_url = fake:/` (no notifications).
"""

import argparse
import json
import os
import pwd
import grp
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request

HOST = "127.0.0.1"
REGION = "RegionOne"
DOMAIN = "Default"
# Neutron pages list responses itself at this size (pagination_max_limit), so that a client's
# pagination is exercised against the real server. 0 or negative: no server-side limit.
DEFAULT_PAGE_LIMIT = 2


def log(msg):
    print(f"openstack-lab: {msg}", file=sys.stderr, flush=True)


class LabError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# HTTP (JSON) helpers
# ---------------------------------------------------------------------------------------------

def http(method, url, body=None, token=None, expect=(200, 201, 202, 204), timeout=60):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            status, headers = resp.status, resp.headers
    except urllib.error.HTTPError as e:
        raw, status, headers = e.read(), e.code, e.headers
    except (urllib.error.URLError, OSError) as e:
        raise LabError(f"{method} {url}: {e}") from None
    if status not in expect:
        raise LabError(f"{method} {url}: HTTP {status}: {raw[:500].decode(errors='replace')}")
    return status, headers, (json.loads(raw) if raw else None)


def wait_http(url, proc, name, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LabError(f"{name} exited with status {proc.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status < 500:
                    return
        except urllib.error.HTTPError as e:
            if e.code < 500:
                return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise LabError(f"{name} did not answer {url} within {timeout} s")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------

def venv_bin(name):
    return os.path.join(os.path.dirname(sys.executable), name)


def run(cmd, env, logfile):
    with open(logfile, "ab") as out:
        out.write(("\n$ " + " ".join(cmd) + "\n").encode())
        out.flush()
        r = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        raise LabError(f"{os.path.basename(cmd[0])} {cmd[1] if len(cmd) > 1 else ''} failed "
                       f"(exit {r.returncode}); see {logfile}:\n{tail(logfile)}")


def tail(path, lines=25):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def spawn_server(name, port, env, run_dir):
    logfile = os.path.join(run_dir, f"{name}.log")
    out = open(logfile, "ab")
    proc = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "serve", name, str(port)],
        env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True, cwd=run_dir)
    out.close()
    return proc


def stop_pid(pid, grace=10.0):
    """Stops the process group led by pid (gunicorn master and its workers)."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    except PermissionError:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        # reap it if it is our child
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.2)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# ---------------------------------------------------------------------------------------------
# serve: gunicorn on 127.0.0.1, the application loaded inside the worker
# ---------------------------------------------------------------------------------------------

def serve(name, port):
    from gunicorn.app.base import BaseApplication

    module = {"keystone": "keystone.wsgi.api", "neutron": "neutron.wsgi.api"}[name]

    class App(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{HOST}:{port}")
            self.cfg.set("workers", 1)
            self.cfg.set("worker_class", "sync")
            self.cfg.set("timeout", 120)
            self.cfg.set("graceful_timeout", 5)
            self.cfg.set("accesslog", "-")
            self.cfg.set("proc_name", f"mra-lab-{name}")

        def load(self):
            # Both applications parse sys.argv with oslo.config: give them none of gunicorn's.
            sys.argv = [f"{name}-api"]
            import importlib
            return importlib.import_module(module).application

    App().run()


# ---------------------------------------------------------------------------------------------
# start
# ---------------------------------------------------------------------------------------------

def write(path, text, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def keystone_conf(run_dir):
    return textwrap.dedent(f"""\
        [DEFAULT]
        debug = false
        log_file = {run_dir}/keystone-app.log

        [database]
        connection = sqlite:///{run_dir}/keystone.sqlite

        [token]
        provider = fernet
        expiration = 3600

        [fernet_tokens]
        key_repository = {run_dir}/keystone-fernet-keys

        [fernet_receipts]
        key_repository = {run_dir}/keystone-fernet-receipts

        [credential]
        key_repository = {run_dir}/keystone-credential-keys

        [cache]
        enabled = false
        """)


def neutron_conf(run_dir, keystone_url, service_password, page_limit, paste_ini, rabbit=None):
    transport_url = rabbit["transport_url"] if rabbit else "fake:/"
    notifications = textwrap.dedent("""\

        [oslo_messaging_notifications]
        driver = messagingv2
        topics = notifications
        # 0: a notification that cannot be sent while the broker is down is dropped at once (the default, -1,
        # retries for ever, holding the API call until the broker is back). The agent resyncs on reconnect.
        retry = 0

        [oslo_messaging_rabbit]
        # reconnect quickly after a broker restart (the tests restart it)
        rabbit_retry_interval = 1
        rabbit_retry_backoff = 1
        rabbit_interval_max = 2
        """) if rabbit else ""
    return textwrap.dedent(f"""\
        [DEFAULT]
        debug = false
        log_file = {run_dir}/neutron-app.log
        bind_host = {HOST}
        core_plugin = ml2
        service_plugins = router
        auth_strategy = keystone
        api_paste_config = {paste_ini}
        state_path = {run_dir}/neutron-state
        transport_url = {transport_url}
        allow_overlapping_ips = true
        pagination_max_limit = {page_limit if page_limit > 0 else -1}
        notify_nova_on_port_status_changes = false
        notify_nova_on_port_data_changes = false
        rpc_workers = 0
        rpc_state_report_workers = 0

        [database]
        connection = sqlite:///{run_dir}/neutron.sqlite

        [oslo_concurrency]
        lock_path = {run_dir}/neutron-locks

        [keystone_authtoken]
        www_authenticate_uri = {keystone_url}
        auth_url = {keystone_url}
        auth_type = password
        username = neutron
        password = {service_password}
        user_domain_name = {DOMAIN}
        project_name = service
        project_domain_name = {DOMAIN}
        region_name = {REGION}
        # cache validated tokens for 3 s only (default 300), so that a revoked token is refused
        # soon: the integration test revokes one to see the client re-authenticate
        token_cache_time = 3

        [ml2]
        type_drivers = flat,vlan
        tenant_network_types = vlan
        mechanism_drivers =
        extension_drivers = port_security

        [ml2_type_flat]
        flat_networks = physnet1

        [ml2_type_vlan]
        network_vlan_ranges = physnet2:1:4094
        """) + notifications


CREATE_NEUTRON_SCHEMA = """
import sys
import sqlalchemy
from neutron.db.migration.models import head  # noqa: F401  (imports every model)
from neutron_lib.db import model_base
engine = sqlalchemy.create_engine(sys.argv[1])
model_base.BASEV2.metadata.create_all(engine)
"""


# ---------------------------------------------------------------------------------------------
# RabbitMQ for Neutron's notifications (a vhost and user per lab on the tests' broker)
# ---------------------------------------------------------------------------------------------

def rabbit_ctl(ctl, *args, check=True, port=None):
    env = dict(os.environ)
    if port:
        env["MRA_RABBITMQ_PORT"] = str(port)  # scripts/rabbitmq/ctl.sh finds its node by the AMQP port
    r = subprocess.run([ctl, "-q", *args], capture_output=True, text=True, timeout=60, env=env)
    if check and r.returncode != 0:
        # Only the command and its first argument: add_user's second one is a password.
        raise LabError(f"rabbitmqctl {' '.join(args[:2])} failed (exit {r.returncode}): {(r.stderr or r.stdout).strip()[:400]}")
    return r.stdout


def rabbit_setup(run_dir):
    """A vhost and a user (all rights on that vhost only) for this lab's Neutron; None when not asked for."""
    ctl = os.environ.get("MRA_LAB_RABBITMQ_CTL")
    if not ctl:
        return None
    port = int(os.environ.get("MRA_LAB_RABBITMQ_PORT", "5672"))
    tag = os.path.basename(run_dir).replace("_", "-").lower()
    # Hex: a URL-safe token can start with "-", which rabbitmqctl takes for an option (the lab then fails to start).
    vhost, user, password = f"mra-lab-{tag}", f"neutron-{tag}", secrets.token_hex(18)
    rabbit_ctl(ctl, "add_vhost", vhost, port=port)
    rabbit_ctl(ctl, "add_user", user, password, port=port)
    rabbit_ctl(ctl, "set_permissions", "-p", vhost, user, ".*", ".*", ".*", port=port)
    return {"ctl": ctl, "port": port, "vhost": vhost, "user": user, "password": password,
            "transport_url": f"rabbit://{user}:{password}@{HOST}:{port}/{vhost}",
            "url": f"amqp://{HOST}:{port}/{vhost}"}


def rabbit_teardown(ctl, vhost, user, port=None):
    if ctl and vhost:
        rabbit_ctl(ctl, "delete_vhost", vhost, check=False, port=port)
    if ctl and user:
        rabbit_ctl(ctl, "delete_user", user, check=False, port=port)


class NotificationWatch:
    """A consumer of exchange `neutron` (declared as oslo.messaging declares it: topic, not durable, not
    auto-delete) on an exclusive queue bound with notifications.info, to check that Neutron publishes."""

    def __init__(self, rabbit):
        import amqp  # py-amqp: kombu's transport, in the venv since oslo.messaging needs it
        self.conn = amqp.Connection(host=f"{HOST}:{rabbit['port']}", userid=rabbit["user"],
                                    password=rabbit["password"], virtual_host=rabbit["vhost"], connect_timeout=10)
        self.conn.connect()
        self.ch = self.conn.channel()
        self.ch.exchange_declare("neutron", "topic", durable=False, auto_delete=False)
        self.queue, _, _ = self.ch.queue_declare("", exclusive=True, auto_delete=True)
        self.ch.queue_bind(self.queue, "neutron", "notifications.info")
        self.events = []
        self.ch.basic_consume(self.queue, callback=self._on_message, no_ack=True)

    def _on_message(self, msg):
        body = json.loads(msg.body)
        inner = json.loads(body["oslo.message"])
        self.events.append(inner["event_type"])

    def wait_for(self, event_type, timeout=15):
        import socket as _socket
        deadline = time.monotonic() + timeout
        while event_type not in self.events and time.monotonic() < deadline:
            try:
                self.conn.drain_events(timeout=0.5)
            except _socket.timeout:
                pass
        return event_type in self.events

    def close(self):
        try:
            self.conn.close()
        except Exception:
            pass


class Keystone:
    def __init__(self, url):
        self.url = url.rstrip("/")
        self.token = None

    def password_token(self, user, password, project):
        body = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"name": DOMAIN}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"name": DOMAIN}}}}}
        _, headers, doc = http("POST", f"{self.url}/v3/auth/tokens", body)
        return headers["X-Subject-Token"], doc["token"]

    def get(self, path):
        return http("GET", f"{self.url}{path}", token=self.token)[2]

    def post(self, path, body):
        return http("POST", f"{self.url}{path}", body, token=self.token)[2]

    def put(self, path):
        return http("PUT", f"{self.url}{path}", token=self.token)[2]

    def find_id(self, collection, name):
        items = self.get(f"/v3/{collection}?name={name}")[collection]
        return items[0]["id"] if items else None


class Neutron:
    def __init__(self, url, token):
        self.url = url.rstrip("/")
        self.token = token

    def create(self, kind, body):
        return http("POST", f"{self.url}/v2.0/{kind}s", {kind: body}, token=self.token)[2][kind]

    def add_interface(self, router_id, subnet_id):
        return http("PUT", f"{self.url}/v2.0/routers/{router_id}/add_router_interface",
                    {"subnet_id": subnet_id}, token=self.token)[2]

    def get(self, path):
        return http("GET", f"{self.url}{path}", token=self.token)[2]


def env_line(key, value):
    # single-quoted for sh; values here never contain a single quote (checked)
    value = str(value)
    if "'" in value or "\n" in value:
        raise LabError(f"unexpected character in value of {key}")
    return f"{key}='{value}'\n"


def start(args):
    t0 = time.monotonic()
    base = os.environ.get("MRA_LAB_DIR", "/var/tmp/mra-openstack-lab")
    if args.dir:
        run_dir = os.path.abspath(args.dir)
        os.makedirs(run_dir, mode=0o700, exist_ok=False)
    else:
        os.makedirs(base, exist_ok=True)
        run_dir = tempfile.mkdtemp(prefix="run-", dir=base)
    page_limit = int(os.environ.get("MRA_LAB_PAGE_LIMIT", DEFAULT_PAGE_LIMIT))
    procs = []
    try:
        info = _start(run_dir, page_limit, procs, t0)
    except BaseException as e:
        for p in procs:
            stop_pid(p.pid)
        rabbit_file = os.path.join(run_dir, "rabbit.json")
        if os.path.exists(rabbit_file):
            r = json.load(open(rabbit_file))
            rabbit_teardown(r.get("ctl"), r.get("vhost"), r.get("user"), r.get("port"))
        msg = str(e) if isinstance(e, LabError) else f"{type(e).__name__}: {e}"
        log(f"start failed: {msg}")
        for name in ("keystone", "neutron", "keystone-app", "neutron-app"):
            t = tail(os.path.join(run_dir, f"{name}.log"), 15)
            if t:
                log(f"--- last lines of {name}.log ---\n{t}")
        if os.environ.get("MRA_LAB_KEEP_ON_FAILURE") == "1":
            log(f"state kept in {run_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
        return 1
    print(info["env_file"])
    return 0


def _start(run_dir, page_limit, procs, t0):
    env = dict(os.environ)
    env.pop("OS_CLOUD", None)
    for k in list(env):
        if k.startswith("OS_"):
            del env[k]
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    admin_password = secrets.token_urlsafe(18)
    service_password = secrets.token_urlsafe(18)
    keystone_port, neutron_port = free_port(), free_port()
    while neutron_port == keystone_port:
        neutron_port = free_port()
    keystone_url = f"http://{HOST}:{keystone_port}"
    neutron_url = f"http://{HOST}:{neutron_port}"

    # --- Keystone -------------------------------------------------------------------------
    kconf = os.path.join(run_dir, "keystone.conf")
    write(kconf, keystone_conf(run_dir))
    kenv = dict(env, OS_KEYSTONE_CONFIG_FILES=kconf)
    klog = os.path.join(run_dir, "keystone-manage.log")
    manage = [venv_bin("keystone-manage"), "--config-file", kconf]
    user = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    run(manage + ["db_sync"], kenv, klog)
    run(manage + ["fernet_setup", "--keystone-user", user, "--keystone-group", group], kenv, klog)
    run(manage + ["credential_setup", "--keystone-user", user, "--keystone-group", group], kenv, klog)
    run(manage + ["bootstrap",
                  "--bootstrap-password", admin_password,
                  "--bootstrap-username", "admin",
                  "--bootstrap-project-name", "admin",
                  "--bootstrap-role-name", "admin",
                  "--bootstrap-service-name", "keystone",
                  "--bootstrap-region-id", REGION,
                  "--bootstrap-public-url", f"{keystone_url}/v3/",
                  "--bootstrap-internal-url", f"{keystone_url}/v3/"], kenv, klog)
    t_keystone_init = time.monotonic()
    kproc = spawn_server("keystone", keystone_port, kenv, run_dir)
    procs.append(kproc)
    wait_http(f"{keystone_url}/v3", kproc, "keystone", 120)
    t_keystone_up = time.monotonic()
    log(f"keystone up on {keystone_url} ({t_keystone_up - t0:.1f} s)")

    ks = Keystone(keystone_url)
    ks.token, admin_tok = ks.password_token("admin", admin_password, "admin")
    admin_user_id = admin_tok["user"]["id"]
    admin_project_id = admin_tok["project"]["id"]
    default_domain_id = "default"

    # network service and its endpoints
    svc = ks.post("/v3/services", {"service": {"type": "network", "name": "neutron",
                                                "description": "mra lab neutron"}})["service"]
    for iface in ("public", "internal"):
        ks.post("/v3/endpoints", {"endpoint": {"service_id": svc["id"], "interface": iface,
                                               "region_id": REGION, "url": neutron_url}})

    # service user for keystonemiddleware, projects for the tenants of the topology
    projects = {}
    for name in ("service", "tenant-a", "tenant-b"):
        projects[name] = ks.post("/v3/projects", {"project": {
            "name": name, "domain_id": default_domain_id}})["project"]["id"]
    neutron_user = ks.post("/v3/users", {"user": {
        "name": "neutron", "domain_id": default_domain_id, "password": service_password}})["user"]["id"]
    for role in ("service", "admin"):
        role_id = ks.find_id("roles", role)
        if role_id is None:
            raise LabError(f"keystone has no role {role!r} after bootstrap")
        ks.put(f"/v3/projects/{projects['service']}/users/{neutron_user}/roles/{role_id}")

    # a separate agent user (admin + member on project admin) whose tokens a test may revoke by
    # disabling and re-enabling it
    agent_password = secrets.token_urlsafe(18)
    agent_user = ks.post("/v3/users", {"user": {
        "name": "mra-agent", "domain_id": default_domain_id, "password": agent_password}})["user"]["id"]
    member_role = ks.find_id("roles", "member")
    for role_id in (ks.find_id("roles", "admin"), member_role):
        ks.put(f"/v3/projects/{admin_project_id}/users/{agent_user}/roles/{role_id}")

    # application credential for the admin user (scoped to project admin)
    appcred = ks.post(f"/v3/users/{admin_user_id}/application_credentials", {
        "application_credential": {"name": f"mra-lab-{os.getpid()}",
                                   "description": "metadata-route-agent integration test"}})[
        "application_credential"]

    # --- Neutron --------------------------------------------------------------------------
    paste_ini = os.path.join(os.path.dirname(os.path.dirname(sys.executable)), "etc", "neutron",
                             "api-paste.ini")
    if not os.path.exists(paste_ini):
        raise LabError(f"neutron's api-paste.ini not found at {paste_ini}")
    for d in ("neutron-state", "neutron-locks"):
        os.makedirs(os.path.join(run_dir, d), exist_ok=True)
    t_rabbit = time.monotonic()
    rabbit = rabbit_setup(run_dir)
    t_rabbit = time.monotonic() - t_rabbit
    if rabbit:
        # written before Neutron starts, so that a failed start still removes the vhost and user
        write(os.path.join(run_dir, "rabbit.json"), json.dumps({k: rabbit[k] for k in ("ctl", "vhost", "user", "port")}))
        log(f"neutron notifications to RabbitMQ vhost {rabbit['vhost']} on {HOST}:{rabbit['port']}")
    nconf = os.path.join(run_dir, "neutron.conf")
    write(nconf, neutron_conf(run_dir, keystone_url, service_password, page_limit, paste_ini, rabbit))
    nenv = dict(env, OS_NEUTRON_CONFIG_DIR=run_dir, OS_NEUTRON_CONFIG_FILES="neutron.conf")
    nlog = os.path.join(run_dir, "neutron-manage.log")
    run([sys.executable, "-c", CREATE_NEUTRON_SCHEMA, f"sqlite:///{run_dir}/neutron.sqlite"], nenv, nlog)
    run([venv_bin("neutron-db-manage"), "--config-file", nconf, "stamp", "heads"], nenv, nlog)
    nproc = spawn_server("neutron", neutron_port, nenv, run_dir)
    procs.append(nproc)
    wait_http(f"{neutron_url}/", nproc, "neutron", 180)
    t_neutron_up = time.monotonic()
    log(f"neutron up on {neutron_url} ({t_neutron_up - t0:.1f} s)")

    # the topology, created by admin through the API (watched on the broker when there is one)
    nt = Neutron(neutron_url, ks.token)
    watch = NotificationWatch(rabbit) if rabbit else None
    topo = create_topology(nt, projects, admin_project_id)
    t_topology = time.monotonic()
    log(f"topology created ({t_topology - t0:.1f} s)")
    t_check = time.monotonic()
    if watch:
        seen = watch.wait_for("router.interface.create")
        watch.close()
        if not seen:
            raise LabError(f"neutron published no router.interface.create on exchange neutron (vhost {rabbit['vhost']}); "
                           f"saw {sorted(set(watch.events))}")
        topo["notifications_seen"] = sorted(set(watch.events))
        log(f"notifications on exchange neutron: {len(watch.events)} while creating the topology")
    t_check = time.monotonic() - t_check

    # --- outputs --------------------------------------------------------------------------
    env_file = os.path.join(run_dir, "lab.env")
    topo_file = os.path.join(run_dir, "topology.json")
    lines = [
        "# metadata-route-agent OpenStack lab (real keystone 30 + neutron 29 on 127.0.0.1)\n",
        env_line("OS_AUTH_URL", f"{keystone_url}/v3"),
        env_line("OS_USERNAME", "admin"),
        env_line("OS_PASSWORD", admin_password),
        env_line("OS_PROJECT_NAME", "admin"),
        env_line("OS_USER_DOMAIN_NAME", DOMAIN),
        env_line("OS_PROJECT_DOMAIN_NAME", DOMAIN),
        env_line("OS_REGION_NAME", REGION),
        env_line("OS_INTERFACE", "public"),
        env_line("OS_IDENTITY_API_VERSION", "3"),
        env_line("MRA_LAB_APPCRED_ID", appcred["id"]),
        env_line("MRA_LAB_APPCRED_SECRET", appcred["secret"]),
        env_line("MRA_LAB_APPCRED_NAME", appcred["name"]),
        env_line("MRA_LAB_AGENT_USERNAME", "mra-agent"),
        env_line("MRA_LAB_AGENT_PASSWORD", agent_password),
        env_line("MRA_LAB_AGENT_USER_ID", agent_user),
        env_line("MRA_LAB_ADMIN_PROJECT_ID", admin_project_id),
        env_line("MRA_LAB_KEYSTONE_URL", keystone_url),
        env_line("MRA_LAB_NEUTRON_URL", neutron_url),
        env_line("MRA_LAB_KEYSTONE_PID", kproc.pid),
        env_line("MRA_LAB_NEUTRON_PID", nproc.pid),
        env_line("MRA_LAB_PAGE_LIMIT", page_limit),
        env_line("MRA_LAB_DIR", run_dir),
        env_line("MRA_LAB_TOPOLOGY", topo_file),
    ]
    if rabbit:
        lines += [
            env_line("MRA_LAB_RABBITMQ_URL", rabbit["url"]),
            env_line("MRA_LAB_RABBITMQ_VHOST", rabbit["vhost"]),
            env_line("MRA_LAB_RABBITMQ_CTL", rabbit["ctl"]),
            env_line("MRA_LAB_RABBITMQ_PORT", rabbit["port"]),
            env_line("MRA_LAB_RABBITMQ_NEUTRON_USER", rabbit["user"]),
        ]
    write(env_file, "".join(lines))
    topo["keystone_url"] = keystone_url
    topo["neutron_url"] = neutron_url
    topo["page_limit"] = page_limit
    topo["timings_seconds"] = {
        "keystone_initialised": round(t_keystone_init - t0, 2),
        "keystone_up": round(t_keystone_up - t0, 2),
        "neutron_up": round(t_neutron_up - t0, 2),
        "topology_created": round(t_topology - t0, 2),
    }
    if rabbit:
        topo["timings_seconds"]["rabbitmq_vhost_and_user"] = round(t_rabbit, 2)
        topo["timings_seconds"]["notification_check"] = round(t_check, 2)
    write(topo_file, json.dumps(topo, indent=2, sort_keys=True) + "\n", 0o644)
    log(f"lab ready in {time.monotonic() - t0:.1f} s: {env_file}")
    return {"env_file": env_file}


def create_topology(nt, projects, admin_project_id):
    """Creates the test topology; returns what was created and what a route agent should make of it."""
    pa, pb = projects["tenant-a"], projects["tenant-b"]
    ext = nt.create("network", {"name": "mra-ext", "project_id": admin_project_id,
                                "router:external": True, "provider:network_type": "flat",
                                "provider:physical_network": "physnet1"})
    ext4 = nt.create("subnet", {"name": "mra-ext-v4", "network_id": ext["id"], "ip_version": 4,
                                "cidr": "203.0.113.0/24", "enable_dhcp": False,
                                "project_id": admin_project_id})
    ext6 = nt.create("subnet", {"name": "mra-ext-v6", "network_id": ext["id"], "ip_version": 6,
                                "cidr": "2001:db8:100::/64", "enable_dhcp": False,
                                "project_id": admin_project_id})

    def net(name, project):
        return nt.create("network", {"name": name, "project_id": project})

    def subnet(name, network, cidr, project, **extra):
        version = 6 if ":" in cidr else 4
        body = {"name": name, "network_id": network["id"], "cidr": cidr, "ip_version": version,
                "project_id": project, "enable_dhcp": False}
        body.update(extra)
        return nt.create("subnet", body)

    net_a = net("mra-net-a", pa)
    sub_a4 = subnet("mra-sub-a-v4", net_a, "10.0.0.0/24", pa)
    sub_a6 = subnet("mra-sub-a-v6", net_a, "fd00:10::/64", pa)
    net_b = net("mra-net-b", pb)
    sub_b4 = subnet("mra-sub-b-v4", net_b, "10.1.0.0/24", pb)
    net_c = net("mra-net-c", pb)
    sub_c4 = subnet("mra-sub-c-v4", net_c, "10.2.0.0/24", pb)
    net_h = net("mra-net-hostile", pb)
    sub_h4 = subnet("mra-sub-hostile", net_h, "0.0.0.0/1", pb)

    def router(name, project, gateway=None):
        body = {"name": name, "project_id": project}
        if gateway is not None:
            body["external_gateway_info"] = gateway
        return nt.create("router", body)

    r_a = router("mra-router-a", pa, {"network_id": ext["id"], "enable_snat": True})
    r_b = router("mra-router-b", pb, {"network_id": ext["id"], "enable_snat": False,
                                      "external_fixed_ips": [{"subnet_id": ext4["id"]}]})
    r_n = router("mra-router-nogw", pb)
    r_h = router("mra-router-hostile", pb, {"network_id": ext["id"], "enable_snat": True,
                                            "external_fixed_ips": [{"subnet_id": ext4["id"]}]})
    attach = [(r_a, sub_a4), (r_a, sub_a6), (r_b, sub_b4), (r_n, sub_c4), (r_h, sub_h4)]
    interfaces = []
    for r, s in attach:
        res = nt.add_interface(r["id"], s["id"])
        interfaces.append((r, s, res["port_id"]))

    # read back the interface ports to learn the addresses Neutron gave them
    ports = {}
    for r, s, port_id in interfaces:
        p = nt.get(f"/v2.0/ports/{port_id}")["port"]
        ports[port_id] = p

    def gateway_ips(r):
        info = r.get("external_gateway_info") or {}
        return [f["ip_address"] for f in info.get("external_fixed_ips") or []]

    routers_out = []
    expected_routes = []
    expected_refused = []
    for r in (r_a, r_b, r_n, r_h):
        gws = gateway_ips(r)
        rports = [(s, pid) for (rr, s, pid) in interfaces if rr["id"] == r["id"]]
        routers_out.append({
            "id": r["id"], "name": r["name"], "project_id": r["project_id"],
            "external_network_id": (r.get("external_gateway_info") or {}).get("network_id"),
            "enable_snat": (r.get("external_gateway_info") or {}).get("enable_snat"),
            "gateway_ips": gws,
            "interface_port_ids": sorted({pid for _, pid in rports}),
            "interface_subnet_ids": [s["id"] for s, _ in rports],
        })
        for s, pid in rports:
            version = s["ip_version"]
            via = [ip for ip in gws if (":" in ip) == (version == 6)]
            entry = {"router_id": r["id"], "router_name": r["name"], "subnet_id": s["id"],
                     "destination": s["cidr"], "via": via[0] if via else None}
            if r is r_h:
                entry["reason"] = "outside the allowed prefixes / shorter than the minimum length"
                expected_refused.append(entry)
            elif via:
                expected_routes.append(entry)

    def subnet_out(s):
        return {"id": s["id"], "name": s["name"], "network_id": s["network_id"], "cidr": s["cidr"],
                "ip_version": s["ip_version"], "gateway_ip": s["gateway_ip"],
                "project_id": s["project_id"], "created_at": s.get("created_at")}

    return {
        "external_network": {"id": ext["id"], "name": ext["name"],
                             "subnet_ids": [ext4["id"], ext6["id"]]},
        "networks": [{"id": n["id"], "name": n["name"], "project_id": n["project_id"]}
                     for n in (net_a, net_b, net_c, net_h)],
        "subnets": [subnet_out(s) for s in (ext4, ext6, sub_a4, sub_a6, sub_b4, sub_c4, sub_h4)],
        "routers": routers_out,
        "ports": [{"id": p["id"], "device_id": p["device_id"], "device_owner": p["device_owner"],
                   "fixed_ips": p["fixed_ips"]} for p in ports.values()],
        "expected_routes": expected_routes,
        "expected_refused": expected_refused,
        "projects": projects,
        "admin_project_id": admin_project_id,
    }


# ---------------------------------------------------------------------------------------------
# stop
# ---------------------------------------------------------------------------------------------

def read_env(path):
    values = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            k, v = line.split("=", 1)
            values[k] = v.strip("'")
    return values


def stop(args):
    run_dir = os.path.abspath(args.dir)
    env_file = os.path.join(run_dir, "lab.env")
    if os.path.exists(env_file):
        values = read_env(env_file)
        for key in ("MRA_LAB_NEUTRON_PID", "MRA_LAB_KEYSTONE_PID"):
            pid = values.get(key)
            if pid and pid.isdigit():
                stop_pid(int(pid))
    rabbit_file = os.path.join(run_dir, "rabbit.json")
    if os.path.exists(rabbit_file):
        r = json.load(open(rabbit_file))
        rabbit_teardown(r.get("ctl"), r.get("vhost"), r.get("user"), r.get("port"))
    if os.path.isdir(run_dir) and (os.path.exists(os.path.join(run_dir, "keystone.conf"))
                                   or not os.listdir(run_dir)):
        shutil.rmtree(run_dir, ignore_errors=True)
    elif os.path.isdir(run_dir):
        raise SystemExit(f"openstack-lab: {run_dir} does not look like a lab directory; not removed")
    return 0


def reference_read(args):
    """Reads what the agent reads (four lists, projected, paginated) as a cross-check of the lab and of
    the request count: authenticates with the lab's application credential, prints a JSON summary."""
    values = read_env(args.env_file)
    keystone_url = values["MRA_LAB_KEYSTONE_URL"]
    body = {"auth": {"identity": {"methods": ["application_credential"], "application_credential": {
        "id": values["MRA_LAB_APPCRED_ID"], "secret": values["MRA_LAB_APPCRED_SECRET"]}}}}
    _, headers, doc = http("POST", f"{keystone_url}/v3/auth/tokens", body)
    token = headers["X-Subject-Token"]
    endpoint = next(e["url"] for s in doc["token"]["catalog"] if s["type"] == "network"
                    for e in s["endpoints"] if e["interface"] == "public" and e["region_id"] == REGION)
    endpoint = endpoint.rstrip("/")
    owners = ["network:router_interface", "network:router_interface_distributed",
              "network:ha_router_replicated_interface"]
    queries = {
        "routers": [("fields", f) for f in ("id", "name", "project_id", "admin_state_up", "tags",
                                             "external_gateway_info")],
        "ports": [("device_owner", o) for o in owners]
                 + [("fields", f) for f in ("id", "device_id", "device_owner", "fixed_ips")],
        "subnets": [("fields", f) for f in ("id", "network_id", "cidr", "project_id", "created_at",
                                             "subnetpool_id")],
        "networks": [("router:external", "true")]
                    + [("fields", f) for f in ("id", "name", "router:external", "ipv4_address_scope",
                                                "ipv6_address_scope")],
    }
    summary = {"keystone_requests": 1, "neutron_requests": 0, "pages": {}, "items": {}}
    t0 = time.monotonic()
    for collection, query in queries.items():
        url = f"{endpoint}/v2.0/{collection}?" + urllib.parse.urlencode(query + [("limit", args.limit)])
        pages, items = 0, 0
        while url:
            doc = http("GET", url, token=token)[2]
            pages += 1
            items += len(doc[collection])
            url = next((l["href"] for l in doc.get(f"{collection}_links", []) if l["rel"] == "next"), None)
            if pages > 10_000:
                raise LabError(f"{collection}: runaway pagination")
        summary["pages"][collection] = pages
        summary["items"][collection] = items
        summary["neutron_requests"] += pages
    summary["seconds"] = round(time.monotonic() - t0, 3)
    print(json.dumps(summary, sort_keys=True))
    return 0


def scale(args):
    """Adds N routers (each with a gateway on the external IPv6 subnet and one IPv4 tenant subnet
    10.128.0.0/9 carved into /24s) to a running lab, to measure a read of a larger cloud.
    Networks and subnets are created in bulk; routers and interfaces one by one."""
    values = read_env(args.env_file)
    topo_path = values["MRA_LAB_TOPOLOGY"]
    with open(topo_path) as f:
        topo = json.load(f)
    ks = Keystone(values["MRA_LAB_KEYSTONE_URL"])
    ks.token, _ = ks.password_token(values["OS_USERNAME"], values["OS_PASSWORD"], values["OS_PROJECT_NAME"])
    nt = Neutron(values["MRA_LAB_NEUTRON_URL"], ks.token)
    ext_v6 = topo["external_network"]["subnet_ids"][1]
    project = topo["projects"]["tenant-a"]
    start_index = topo.get("scaled_routers", 0)
    # Neutron's default quotas (100 networks, 10 routers per project) would stop us early.
    http("PUT", f"{nt.url}/v2.0/quotas/{project}", {"quota": {
        "network": -1, "subnet": -1, "router": -1, "port": -1}}, token=nt.token)
    t0 = time.monotonic()
    created = 0
    batch = 100
    while created < args.count:
        n = min(batch, args.count - created)
        idx = [start_index + created + i for i in range(n)]
        nets = http("POST", f"{nt.url}/v2.0/networks", {"networks": [
            {"name": f"mra-scale-net-{i}", "project_id": project} for i in idx]}, token=nt.token)[2]["networks"]
        subs = http("POST", f"{nt.url}/v2.0/subnets", {"subnets": [
            {"name": f"mra-scale-sub-{i}", "network_id": net["id"], "ip_version": 4, "enable_dhcp": False,
             "cidr": f"10.{128 + i // 256}.{i % 256}.0/24", "project_id": project}
            for i, net in zip(idx, nets)]}, token=nt.token)[2]["subnets"]
        for i, sub in zip(idx, subs):
            r = nt.create("router", {"name": f"mra-scale-router-{i}", "project_id": project,
                                     "external_gateway_info": {
                                         "network_id": topo["external_network"]["id"],
                                         "external_fixed_ips": [{"subnet_id": ext_v6}]}})
            nt.add_interface(r["id"], sub["id"])
        created += n
        log(f"scale: {start_index + created} extra routers ({time.monotonic() - t0:.0f} s)")
    topo["scaled_routers"] = start_index + created
    write(topo_path, json.dumps(topo, indent=2, sort_keys=True) + "\n", 0o644)
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("start")
    p.add_argument("--dir", help="state directory to create (default: a new one under $MRA_LAB_DIR)")
    p = sub.add_parser("stop")
    p.add_argument("dir")
    p = sub.add_parser("read", help="cross-check: read the four lists as the agent does, count requests")
    p.add_argument("env_file")
    p.add_argument("--limit", type=int, default=1000)
    p = sub.add_parser("scale", help="add N routers (gateway + one subnet each) to a running lab")
    p.add_argument("env_file")
    p.add_argument("count", type=int)
    p = sub.add_parser("serve")
    p.add_argument("name", choices=["keystone", "neutron"])
    p.add_argument("port", type=int)
    args = parser.parse_args()
    if args.cmd == "start":
        return start(args)
    if args.cmd == "stop":
        return stop(args)
    if args.cmd == "scale":
        return scale(args)
    if args.cmd == "read":
        return reference_read(args)
    serve(args.name, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
