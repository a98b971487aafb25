#!/usr/bin/env python3
"""The benchmark behind `make bench` (scripts/bench.sh builds, then runs this as root).

For each N: a fresh network namespace (dummy `ext0` holding 198.18.0.1/15 and 2001:db8:100::1/64, the
stand-in cloud's external networks), the Neutron stand-in inside it on 127.0.0.1, then
  full   `metadata-route-agent sync` from an empty table
  noop   the same again (nothing changed): must write nothing (`ip monitor route nexthop` stays silent)
  churn  1% of the routers changed on the stand-in, then sync: only the changed routes/nexthops written
  kernel the same routes with `ip -batch`, nexthop objects and classic `via`, each in a fresh namespace
and at N = 1,000 the 2013 method (three requests per router, one `ip route add` process per route).
Every namespace has a unique name and is deleted on exit, also on failure or Ctrl-C.
"""
import argparse
import atexit
import datetime
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO = "200"
DEV = "ext0"
NAMESPACES = []
PROCESSES = []


def cleanup():
    for p in PROCESSES:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
    PROCESSES.clear()
    for ns in NAMESPACES:
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
    NAMESPACES.clear()


def on_signal(sig, _frame):
    cleanup()
    sys.exit(128 + sig)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw).stdout


def new_namespace(purpose):
    name = f"mra-bench-{purpose}-{os.getpid()}-{len(NAMESPACES)}"
    NAMESPACES.append(name)
    run(["ip", "netns", "add", name])
    run(["ip", "-n", name, "link", "set", "lo", "up"])
    # The external interface: a dummy, or where the dummy driver is missing a veth pair (both ends
    # up, so the link has carrier) — either way routes via it need no neighbour to exist.
    # No IPv6 link-local addresses: their late arrival would show up in `ip monitor` as foreign events.
    if subprocess.run(["ip", "-n", name, "link", "add", DEV, "type", "dummy"], capture_output=True).returncode != 0:
        run(["ip", "-n", name, "link", "add", DEV, "type", "veth", "peer", "name", DEV + "p"])
        run(["ip", "-n", name, "link", "set", DEV + "p", "addrgenmode", "none"])
        run(["ip", "-n", name, "link", "set", DEV + "p", "up"])
    run(["ip", "-n", name, "link", "set", DEV, "addrgenmode", "none"])
    for cmd in (["link", "set", DEV, "up"], ["addr", "add", "198.18.0.1/15", "dev", DEV],
                ["addr", "add", "2001:db8:100::1/64", "dev", DEV, "nodad"]):
        run(["ip", "-n", name] + cmd)
    return name


def delete_namespace(name):
    # Delete the interface first, synchronously: it takes its routes and nexthops with it. A namespace
    # deleted with 100,000s of routes is torn down later by a kernel worker holding the RTNL lock,
    # which would slow down whatever is measured next.
    subprocess.run(["ip", "-n", name, "link", "del", DEV], stderr=subprocess.DEVNULL)
    subprocess.run(["ip", "netns", "del", name], stderr=subprocess.DEVNULL)
    if name in NAMESPACES:
        NAMESPACES.remove(name)
    time.sleep(0.5)


class StandIn:
    def __init__(self, binary, ns, routers, max_page):
        self.ns = ns
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, binary, "--routers", str(routers), "--port", "0",
                                      "--max-page", str(max_page)], stdout=subprocess.PIPE, text=True)
        PROCESSES.append(self.proc)
        line = self.proc.stdout.readline()
        m = re.search(r"listening (http://127\.0\.0\.1:(\d+))", line)
        if not m:
            raise SystemExit(f"bench: the Neutron stand-in did not start: {line!r}")
        self.url, self.port = m.group(1), int(m.group(2))

    def call(self, method, path):
        out = run(["ip", "netns", "exec", self.ns, "curl", "-sf", "-X", method, f"{self.url}/_control/{path}"])
        return json.loads(out)

    def cpu_s(self):
        """The stand-in's own CPU time so far (user + system), to show it is not what a phase measures."""
        try:
            fields = open(f"/proc/{self.proc.pid}/stat").read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return None

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        PROCESSES.remove(self.proc)


def timed(cmd, ns, env=None, stdout=None, stderr=None):
    """Runs cmd inside ns under GNU time; returns (exit code, wall s, user s, sys s, peak RSS kB)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        full = ["ip", "netns", "exec", ns, "/usr/bin/time", "-f", "%e %U %S %M", "-o", tf.name] + cmd
        rc = subprocess.run(full, env=env, stdout=stdout, stderr=stderr).returncode
        fields = tf.read().strip().splitlines()[-1].split()
    wall, user, sys_, rss = float(fields[0]), float(fields[1]), float(fields[2]), int(fields[3])
    return rc, wall, user, sys_, rss


class Monitor:
    """`ip monitor route nexthop` in a namespace: every route/nexthop change notification, one line each."""

    def __init__(self, ns, path):
        self.path = path
        self.file = open(path, "w")
        self.proc = subprocess.Popen(["ip", "-n", ns, "monitor", "route", "nexthop"], stdout=self.file,
                                     stderr=subprocess.STDOUT)
        PROCESSES.append(self.proc)
        time.sleep(0.3)

    def stop(self):
        time.sleep(0.3)
        self.proc.terminate()
        self.proc.wait(timeout=5)
        PROCESSES.remove(self.proc)
        self.file.close()
        every = [l for l in open(self.path) if l.strip()]
        # The agent's writes all carry its protocol; anything else is the kernel's own (addresses, link-locals).
        lines = [l for l in every if f"proto {PROTO} " in l + " "]
        return {
            "events": len(lines),
            "foreign_events": len(every) - len(lines),
            "nexthop_events": sum(1 for l in lines if re.match(r"^(Deleted )?id \d+", l)),
            "route_events": sum(1 for l in lines if not re.match(r"^(Deleted )?id \d+", l)),
            "deleted": sum(1 for l in lines if l.startswith("Deleted")),
        }


def table_counts(ns):
    r4 = run(["ip", "-n", ns, "-4", "route", "show", "proto", PROTO]).splitlines()
    r6 = run(["ip", "-n", ns, "-6", "route", "show", "proto", PROTO]).splitlines()
    nh = run(["ip", "-n", ns, "nexthop", "show"]).splitlines() if nexthops_supported() else []
    return {"routes_v4": len(r4), "routes_v6": len(r6), "nexthops": len(nh)}


_NH = None


def nexthops_supported():
    global _NH
    if _NH is None:
        _NH = subprocess.run(["ip", "nexthop", "show"], capture_output=True).returncode == 0
    return _NH


def parse_agent_log(path):
    """The debug lines the agent writes about its own work (JSON log format)."""
    out = {}
    for line in open(path, errors="replace"):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            e = json.loads(line)
        except json.JSONDecodeError:
            continue
        msg = e.get("message") or e.get("msg") or ""
        meta = {k: v for k, v in e.items() if k not in ("message", "msg", "level", "time", "ts", "label", "source")}
        if isinstance(e.get("metadata"), dict):
            meta.update(e["metadata"])
        if msg == "Neutron read complete":
            out["neutron_ms"] = num(meta.get("duration_ms"))
            out["neutron_requests_client"] = num(meta.get("requests"))
        elif msg == "reconcile timings":
            for k in ("kernel_read_ms", "plan_ms", "apply_ms", "operations"):
                out[k] = num(meta.get(k))
        elif msg == "netlink statistics":
            for k in ("messages_sent", "messages_received", "bytes_sent", "bytes_received", "send_calls", "receive_calls"):
                out["netlink_" + k] = num(meta.get(k))
        elif msg == "sync finished":
            for k, v in meta.items():
                out[k] = num(v)
    return out


def num(v):
    if v is None:
        return None
    try:
        f = float(v)
        return int(f) if f.is_integer() else f
    except (TypeError, ValueError):
        return v


def agent_sync(args, ns, standin, label, workdir, monitor):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(OS_AUTH_TYPE="none", OS_NETWORK_ENDPOINT_OVERRIDE=f"http://127.0.0.1:{standin.port}/")
    standin.call("POST", "reset")
    mon = Monitor(ns, os.path.join(workdir, f"{label}.monitor")) if monitor else None
    log = os.path.join(workdir, f"{label}.log")
    standin_before = standin.cpu_s()
    with open(os.path.join(workdir, f"{label}.out"), "w") as so, open(log, "w") as se:
        rc, wall, user, sys_, rss = timed([args.agent, "sync", "--log-level", "debug", "--log-format", "json"] + args.agent_arg,
                                          ns, env=env, stdout=so, stderr=se)
    standin_after = standin.cpu_s()
    events = mon.stop() if mon else {}
    stats = standin.call("GET", "stats")
    rec = {"phase": label.split("-")[0], "exit": rc, "wall_s": wall, "user_s": user, "sys_s": sys_,
           "cpu_s": round(user + sys_, 3), "rss_mb": round(rss / 1024, 1), "api_requests": stats["requests"],
           "api_bytes": stats["bytes"], "api_by_collection": stats["by_collection"]}
    if standin_before is not None and standin_after is not None:
        rec["standin_cpu_s"] = round(standin_after - standin_before, 3)
    rec.update(events)
    rec.update(parse_agent_log(log))
    rec.update(table_counts(ns))
    rec["summary"] = open(os.path.join(workdir, f"{label}.out")).read().strip().splitlines()[-1:] or [""]
    rec["summary"] = rec["summary"][0]
    if rc != 0:
        print(f"  ! agent exited {rc}; see {log}", file=sys.stderr)
    return rec


def daemon_read(args, ns, standin, n, workdir):
    """`mra-bench read`: the daemon's periodic read (readSnapshotIfChanged) of an unchanged cloud, three rounds."""
    bench = os.path.join(args.bin, "mra-bench")
    if not os.access(bench, os.X_OK):
        return None
    out = subprocess.run(["ip", "netns", "exec", ns, "/usr/bin/time", "-f", "%M", bench, "read", "--url", standin.url + "/", "--rounds", "3"],
                         capture_output=True, text=True)
    with open(os.path.join(workdir, f"daemon-read-{n}.txt"), "w") as f:
        f.write(out.stdout + out.stderr)
    rows = []
    for line in out.stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[0].isdigit():
            rows.append({"round": int(cells[0]), "result": cells[1], "cpu_ms": float(cells[2]), "wall_ms": float(cells[3]),
                         "requests": int(cells[4]), "routers": int(cells[5]), "rss_mib": float(cells[6])})
    if rows:
        last = rows[-1]
        print(f"  daemon read (readSnapshotIfChanged): first {rows[0]['cpu_ms']:.0f} ms CPU; unchanged {last['cpu_ms']:.0f} ms CPU, "
              f"{last['wall_ms']:.0f} ms wall, {last['requests']} requests, {last['result']}")
    return rows


def dump_owned(ns, n, workdir):
    """The agent's routes and nexthops as `ip -j` shows them (taken right after the full sync)."""
    files = {}
    for fam in ("4", "6"):
        files[fam] = os.path.join(workdir, f"routes{fam}-{n}.json")
        with open(files[fam], "w") as f:
            f.write(run(["ip", "-n", ns, "-j", f"-{fam}", "route", "show", "proto", PROTO]) or "[]")
    nh = os.path.join(workdir, f"nexthops-{n}.json")
    with open(nh, "w") as f:
        f.write((run(["ip", "-n", ns, "-j", "nexthop", "show"]) if nexthops_supported() else "") or "[]")
    return files["4"], files["6"], nh


def kernel_batches(args, dumps, n, workdir):
    """`ip -batch` for the agent's routes, with nexthop objects and with classic via routes."""
    b_nh, b_cl = os.path.join(workdir, f"nexthop-{n}.batch"), os.path.join(workdir, f"classic-{n}.batch")
    info = json.loads(run([sys.executable, "-B", os.path.join(HERE, "batch-files.py"), *dumps, b_nh, b_cl, DEV, PROTO]))
    out = {"batch_routes": info["routes"], "batch_nexthops": info["nexthops"]}
    kinds = [("nexthop", b_nh)] if nexthops_supported() else []
    if n <= args.classic_max:
        kinds.append(("classic", b_cl))
    for kind, path in kinds:
        fresh = new_namespace(f"ipb{kind[0]}")
        rc, wall, user, sys_, rss = timed(["ip", "-batch", path], fresh, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        counts = table_counts(fresh)
        delete_namespace(fresh)
        out[f"ip_batch_{kind}_s"] = wall
        out[f"ip_batch_{kind}_cpu_s"] = round(user + sys_, 3)
        out[f"ip_batch_{kind}_exit"] = rc
        out[f"ip_batch_{kind}_routes"] = counts["routes_v4"] + counts["routes_v6"]
        print(f"  ip -batch {kind}: {wall:.2f} s for {out[f'ip_batch_{kind}_routes']} routes (exit {rc})")
    return out


def method_2013(args, n, workdir):
    ns = new_namespace("2013")
    standin = StandIn(args.standin, ns, n, args.max_page)
    standin.call("POST", "reset")
    out_path = os.path.join(workdir, f"method-2013-{n}.json")
    with open(out_path, "w") as so:
        rc, wall, user, sys_, rss = timed([sys.executable, os.path.join(HERE, "method-2013.py"), "--api", standin.url + "/",
                                           "--dev", DEV, "--proto", PROTO], ns, stdout=so, stderr=subprocess.DEVNULL)
    res = json.load(open(out_path))
    stats = standin.call("GET", "stats")
    counts = table_counts(ns)
    standin.stop()
    delete_namespace(ns)
    return {"n": n, "phase": "2013", "exit": rc, "wall_s": wall, "cpu_s": round(user + sys_, 3), "rss_mb": round(rss / 1024, 1),
            "api_requests": stats["requests"], "api_bytes": stats["bytes"], "api_s": res["api_seconds"],
            "kernel_s": res["kernel_seconds"], "routes_v4": counts["routes_v4"], "routes_v6": counts["routes_v6"],
            "processes": res["routes"], "failures": res["failures"]}


def minimal_requests(cloud, page):
    """Requests of one read at `page` items per page: one per page, plus the empty page after a full last one."""
    interface_ports = cloud["ports"] - cloud["routers"]          # every router has one gateway port
    # Networks are listed with router:external=True: only the external ones come back.
    external = cloud.get("external_networks", 1)
    return sum(c // page + 1 for c in (cloud["routers"], interface_ports, cloud["subnets"], external))


def bench_size(args, n, workdir, results):
    print(f"N = {n:,} routers")
    ns = new_namespace(f"n{n}")
    t = time.monotonic()
    standin = StandIn(args.standin, ns, n, args.max_page)
    cloud = standin.call("GET", "cloud")
    print(f"  stand-in ready in {time.monotonic() - t:.1f} s: {cloud['expected_routes']:,} routes, {cloud['expected_nexthops']:,} nexthops wanted")
    base = {"n": n, "expected_routes": cloud["expected_routes"], "expected_nexthops": cloud["expected_nexthops"],
            "minimal_requests": minimal_requests(cloud, min(args.max_page, 1000))}
    full = dict(base, **agent_sync(args, ns, standin, f"full-{n}", workdir, monitor=False))
    full["written_objects"] = full["routes_v4"] + full["routes_v6"] + full["nexthops"]
    results.append(full)
    dumps = dump_owned(ns, n, workdir)
    print(f"  full sync: {full['wall_s']:.2f} s wall, {full['cpu_s']:.2f} s CPU, {full['rss_mb']} MB, "
          f"{full['api_requests']} requests, {full['routes_v4'] + full['routes_v6']:,} routes, {full['nexthops']:,} nexthops; "
          f"stand-in {full.get('standin_cpu_s', '?')} s CPU")
    noop = dict(base, **agent_sync(args, ns, standin, f"noop-{n}", workdir, monitor=True))
    noop["written_objects"] = noop.get("events", 0)
    results.append(noop)
    print(f"  no-op resync: {noop['wall_s']:.2f} s wall, {noop['cpu_s']:.3f} s CPU, {noop['rss_mb']} MB, {noop['events']} kernel events; "
          f"stand-in {noop.get('standin_cpu_s', '?')} s CPU")
    daemon = daemon_read(args, ns, standin, n, workdir)
    if daemon:
        results.append(dict(base, phase="daemon", rows=daemon))
    churn_report = standin.call("POST", f"churn?percent={args.churn}")
    ch = dict(base, **agent_sync(args, ns, standin, f"churn-{n}", workdir, monitor=True))
    ch["churn"] = churn_report
    objects = bool(ch.get("nexthops"))
    ch["expected_writes"] = churn_report["expected_nexthop_writes"] + churn_report["expected_route_writes_with_nexthops"] \
        if objects else churn_report["expected_route_writes_classic"]
    ch["expected_events"] = churn_report["expected_events_with_nexthops"] if objects else ch["expected_writes"]
    # Writes: netlink requests beyond the no-op cycle's (which sends only its dump requests).
    if isinstance(ch.get("netlink_messages_sent"), int) and isinstance(noop.get("netlink_messages_sent"), int):
        ch["writes"] = ch["netlink_messages_sent"] - noop["netlink_messages_sent"]
    ch["expected_routes"] = cloud["expected_routes"] + churn_report["interfaces_added"] - churn_report["interfaces_removed"]
    ch["written_objects"] = ch.get("events", 0)
    results.append(ch)
    print(f"  churn {args.churn}%: {ch['wall_s']:.2f} s wall, {ch['cpu_s']:.3f} s CPU, {ch.get('writes', '?')} writes "
          f"(expected {ch['expected_writes']}), {ch['events']} kernel events (expected {ch['expected_events']}): {churn_report}")
    kernel = dict(base, phase="kernel", **kernel_batches(args, dumps, n, workdir))
    kernel["agent_apply_ms"] = full.get("apply_ms")
    kernel["agent_kernel_read_ms"] = full.get("kernel_read_ms")
    results.append(kernel)
    standin.stop()
    delete_namespace(ns)


def machine():
    model = ""
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    swift = subprocess.run(["swift", "--version"], capture_output=True, text=True)
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": platform.release(),
            "iproute2": run(["ip", "-V"]).strip(),
            "swift": (swift.stdout or swift.stderr).strip().splitlines()[0] if swift.returncode == 0 else "unknown",
            "memory_mb": int(open("/proc/meminfo").readline().split()[1]) // 1024,
            "loadavg_before": [round(x, 2) for x in os.getloadavg()]}


def fmt_ms(v):
    return "–" if v is None else f"{v:,.0f}"


def goals(results):
    """Issue 13's goals, each figure with its ratio to `ip -batch` (nexthop objects) of the same N and run."""
    by = {(r["n"], r["phase"]): r for r in results}
    out = ["| goal | measured | ratio | status |", "|---|---|---:|---|"]

    def row(goal, measured, ratio, ok):
        out.append(f"| {goal} | {measured} | {ratio} | {'met' if ok else 'MISSED'} |")

    k10 = by.get((10_000, "kernel"), {})
    ipb = k10.get("ip_batch_nexthop_s")
    full, noop = by.get((10_000, "full")), by.get((10_000, "noop"))
    if ipb and full and noop:
        r = noop["cpu_s"] / ipb
        row("10,000: no-op resync CPU ≤ 0.3× ip -batch, 0 writes", f"{noop['cpu_s']:.3f} s CPU vs {ipb:.3f} s; {noop.get('events')} writes",
            f"{r:.2f}×", r <= 0.3 and noop.get("events") == 0)
        r = full["wall_s"] / ipb
        rc = full["cpu_s"] / ipb
        row("10,000: full sync from empty, whole process ≤ 2× ip -batch", f"{full['wall_s']:.2f} s wall, {full['cpu_s']:.2f} s CPU vs {ipb:.3f} s",
            f"{r:.2f}× wall, {rc:.2f}× CPU", r <= 2 and rc <= 2)
        for ph, rec in (("full", full), ("no-op", noop)):
            row(f"10,000: peak RSS ≤ 60 MB ({ph})", f"{rec['rss_mb']:.0f} MB", "–", rec["rss_mb"] <= 60)
        d = noop.get("kernel_read_ms")
        if isinstance(d, (int, float)):
            r = d / 1000 / ipb
            row("10,000: kernel half of a no-op (dump of 30,000 routes + 20,000 nexthops; the diff is inside plan ms) ≤ 0.1× ip -batch",
                f"dump {d:.0f} ms (plan, diff included: {noop.get('plan_ms')} ms)", f"{r:.3f}×", r <= 0.1)
    dm = by.get((10_000, "daemon"))
    if ipb and dm and len(dm["rows"]) > 1:
        last = dm["rows"][-1]
        d = noop.get("kernel_read_ms") if noop else None
        total = last["cpu_ms"] / 1000 + (d / 1000 if isinstance(d, (int, float)) else 0)
        r = total / ipb
        row("10,000: daemon no-op (readSnapshotIfChanged → nil: nothing decoded, no plan) + the kernel dump ≤ 0.3× ip -batch",
            f"read {last['cpu_ms']:.0f} ms CPU + dump {d} ms", f"{r:.2f}×", r <= 0.3)
    big = max((r["n"] for r in results if r["phase"] == "full"), default=0)
    if big >= 100_000:
        for ph in ("full", "noop"):
            a, b = by.get((10_000, ph)), by.get((big, ph))
            if not (a and b):
                continue
            ratios = {k: b[k] / a[k] for k in ("wall_s", "cpu_s", "rss_mb") if a.get(k)}
            txt = ", ".join(f"{k.split('_')[0]} {b[k]:g} ({v:.1f}×)" for k, v in ratios.items())
            row(f"{big:,} vs 10,000 routers, {ph}: each ≤ 11×", txt, f"max {max(ratios.values()):.1f}×", max(ratios.values()) <= 11)
    ch = by.get((10_000, "churn"))
    if ch:
        ok = ch.get("writes") == ch["expected_writes"] and ch.get("events") == ch["expected_events"]
        row("1 % churn writes only the changes", f"{ch.get('writes')} writes ({ch['expected_writes']} expected), "
            f"{ch.get('events')} notifications ({ch['expected_events']} expected)", "–", ok)
    if full:
        row("API requests per cycle ≤ 4 lists + 1 per page", f"{full['api_requests']} (minimum {full['minimal_requests']})", "–",
            full["api_requests"] <= full["minimal_requests"])
    return "\n".join(out)


def render(results, info, args):
    lines = []
    add = lines.append
    add(f"Machine: {info['nproc']} × {info['cpu']}, {info['memory_mb']:,} MB, Linux {info['kernel']}, {info['iproute2']}, {info['swift']}; "
        f"load average before {info['loadavg_before'][0]}, after {info.get('loadavg_after', ['?'])[0]}")
    add("")
    add("| N routers | phase | wall s | CPU s | peak RSS MB | API requests (min) | API bytes | netlink msgs sent | kernel objects written | Neutron ms | dump ms | plan ms | apply ms | stand-in CPU s |")
    add("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        if r["phase"] in ("full", "noop", "churn"):
            if r["phase"] == "full":
                written = f"{r['routes_v4'] + r['routes_v6']:,} routes + {r['nexthops']:,} nh (table)"
            elif r["phase"] == "noop":
                written = f"{r.get('events', 0)} (monitor)"
            else:
                written = (f"{r.get('writes', '?')} writes (expected {r['expected_writes']}); "
                           f"{r.get('events', 0)} events (expected {r['expected_events']})")
            add(f"| {r['n']:,} | {r['phase']} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | {r['rss_mb']:.0f} | "
                f"{r['api_requests']} ({r['minimal_requests']}) | {r['api_bytes']:,} | {r.get('netlink_messages_sent', '–')} | {written} | "
                f"{fmt_ms(r.get('neutron_ms'))} | {fmt_ms(r.get('kernel_read_ms'))} | {fmt_ms(r.get('plan_ms'))} | {fmt_ms(r.get('apply_ms'))} | "
                f"{r.get('standin_cpu_s', '–')} |")
        elif r["phase"] == "2013":
            add(f"| {r['n']:,} | 2013 method | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | {r['rss_mb']:.0f} | {r['api_requests']} | "
                f"{r['api_bytes']:,} | – | {r['routes_v4'] + r['routes_v6']:,} routes ({r['processes']} `ip` processes) | "
                f"{r['api_s'] * 1000:,.0f} | – | – | {r['kernel_s'] * 1000:,.0f} | – |")
    add("")
    add("Kernel part (same routes; `ip -batch` in a fresh namespace, whole process; agent: its apply phase of the full sync):")
    add("")
    add("| N routers | routes | nexthops | agent apply s | ip -batch nexthop objects s | ratio agent / ip nexthop | ip -batch classic via s | ratio agent / ip classic |")
    add("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        if r["phase"] != "kernel":
            continue
        a = r.get("agent_apply_ms")
        a_s = a / 1000 if isinstance(a, (int, float)) else None
        nh, cl = r.get("ip_batch_nexthop_s"), r.get("ip_batch_classic_s")
        ratio = lambda x: f"{a_s / x:.2f}×" if a_s is not None and x else "–"
        add(f"| {r['n']:,} | {r['batch_routes']:,} | {r['batch_nexthops']:,} | {'–' if a_s is None else f'{a_s:.3f}'} | "
            f"{'–' if nh is None else f'{nh:.3f}'} | {ratio(nh)} | {'–' if cl is None else f'{cl:.3f}'} | {ratio(cl)} |")
    daemon = [r for r in results if r["phase"] == "daemon"]
    if daemon:
        add("")
        add("Daemon read (`mra-bench read`: `NeutronClient.readSnapshotIfChanged` three times against the same unchanged stand-in; "
            "round 1 decodes, rounds 2–3 find every page byte-identical and decode nothing; CPU of the process during the read):")
        add("")
        add("| N routers | round | result | CPU ms | wall ms | requests | peak RSS MiB |")
        add("|---:|---:|---|---:|---:|---:|---:|")
        for d in daemon:
            for row in d["rows"]:
                add(f"| {d['n']:,} | {row['round']} | {row['result']} | {row['cpu_ms']:.0f} | {row['wall_ms']:.0f} | {row['requests']} | {row['rss_mib']:.1f} |")
    if info.get("mra_bench_kernel"):
        add("")
        add("`mra-bench kernel` (Netlink module alone vs `ip -batch`, N routes each via its own gateway):")
        add("")
        lines += info["mra_bench_kernel"]
    add("")
    add("Goals (issue 13; ratios to the `ip -batch` installation of the same routes with nexthop objects, whole `ip` process, wall time, same run):")
    add("")
    add(goals(results))
    add("")
    add(f"Command: {args.command}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="directory with metadata-route-agent and neutron-standin")
    ap.add_argument("--sizes", default="1000,10000", help="comma-separated router counts")
    ap.add_argument("--max-page", type=int, default=1000, help="the stand-in's forced page size (pagination_max_limit)")
    ap.add_argument("--churn", type=float, default=1.0, help="percent of routers changed in the churn phase")
    ap.add_argument("--reference", type=int, default=1000, help="N for the 2013 method (0: skip)")
    ap.add_argument("--classic-max", type=int, default=10_000, help="largest N for classic `ip -batch` (quadratic in gateways)")
    ap.add_argument("--out", default="bench-results")
    ap.add_argument("--agent-arg", action="append", default=[], help="extra argument for `metadata-route-agent sync`")
    ap.add_argument("--command", default="make bench")
    args = ap.parse_args()
    args.agent = os.path.join(args.bin, "metadata-route-agent")
    args.standin = os.path.join(args.bin, "neutron-standin")
    if os.geteuid() != 0:
        raise SystemExit("bench: needs root (network namespaces)")
    atexit.register(cleanup)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    workdir = os.path.join(args.out, stamp)
    os.makedirs(workdir, exist_ok=True)
    info = machine()
    results = []
    try:
        if args.reference:
            print(f"2013 method at N = {args.reference:,}")
            r = method_2013(args, args.reference, workdir)
            print(f"  {r['wall_s']:.2f} s wall ({r['api_requests']} requests in {r['api_s']:.2f} s, "
                  f"{r['processes']} `ip` processes in {r['kernel_s']:.2f} s)")
        for n in [int(x) for x in args.sizes.split(",") if x]:
            bench_size(args, n, workdir, results)
        if args.reference:
            results.append(r)
        mra_bench = os.path.join(args.bin, "mra-bench")
        if os.access(mra_bench, os.X_OK):
            counts = sorted({min(3 * int(x), 100_000) for x in args.sizes.split(",") if x})
            print(f"mra-bench kernel --counts {','.join(map(str, counts))} (the Netlink module alone, one gateway per route)")
            out = subprocess.run([mra_bench, "kernel", "--counts", ",".join(map(str, counts))], capture_output=True, text=True)
            with open(os.path.join(workdir, "mra-bench-kernel.txt"), "w") as f:
                f.write(out.stdout + out.stderr)
            info["mra_bench_kernel"] = [l for l in out.stdout.splitlines() if l.startswith("|")]
    finally:
        info["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
        with open(os.path.join(workdir, "results.json"), "w") as f:
            json.dump({"machine": info, "results": results}, f, indent=1)
        text = render(results, info, args)
        with open(os.path.join(workdir, "table.md"), "w") as f:
            f.write(text + "\n")
        print()
        print(text)
        print(f"\nresults: {workdir}/results.json, {workdir}/table.md, logs in {workdir}/")


if __name__ == "__main__":
    main()
