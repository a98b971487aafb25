#!/usr/bin/env python3
"""Neutron API calls against the OpenStack lab (scripts/openstack-lab) for tests/e2e/events-real-neutron.sh, each
timed: the API call's own duration, then how long until the kernel of a namespace shows the expected change
(`ip -j route` polled every 15 ms, bounded). Prints one JSON object per call. Standard library only.

    lab_events.py NS STATE_FILE COMMAND [ARGS]
      setup                          an external network (vlan, 203.0.113.128/25 + 2001:db8:ee::/64) for this test
      router NAME                    a router with a gateway on it (v4 + v6)
      add-interface ROUTER CIDR      a tenant network + subnet, attached; waits for CIDR via the router's gateway
      set-gateway ROUTER V4          PUT /routers/{id} external_fixed_ips; waits for every route of ROUTER via V4
      gateway-port ROUTER V4         PUT /ports/{gateway port} fixed_ips; same wait
      remove-interface ROUTER CIDR   waits for CIDR to be gone
      delete-router ROUTER           every interface removed, then DELETE /routers/{id}; waits for all its routes gone
      touch                          updates a throwaway network's description (makes Neutron publish)
      expect                         prints the routes the kernel should hold now (from STATE_FILE)
      wait-kernel TIMEOUT            waits until the kernel holds exactly those (agent's proto) routes
      cleanup                        deletes everything STATE_FILE lists, in dependency order
Credentials: the lab's OS_* (password auth), from the environment.
"""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

PROTO = "200"
POLL = 0.015
NS, STATE_FILE, CMD = sys.argv[1], sys.argv[2], sys.argv[3]
ARGS = sys.argv[4:]


def load():
    try:
        return json.load(open(STATE_FILE))
    except FileNotFoundError:
        return {"routers": {}, "networks": [], "subnets": {}, "ext": None}


def save(state):
    with open(STATE_FILE + ".tmp", "w") as f:
        json.dump(state, f, indent=1)
    os.replace(STATE_FILE + ".tmp", STATE_FILE)


def call(method, url, body=None, token=None, expect=(200, 201, 202, 204)):
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    req.add_header("Accept", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            raw, status, headers = r.read(), r.status, r.headers
    except urllib.error.HTTPError as e:
        raw, status, headers = e.read(), e.code, e.headers
    if status not in expect:
        raise SystemExit(f"lab_events: {method} {url}: HTTP {status}: {raw[:400].decode(errors='replace')}")
    return headers, (json.loads(raw) if raw else {})


def login():
    e = os.environ
    auth = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": e["OS_USERNAME"], "domain": {"name": e.get("OS_USER_DOMAIN_NAME", "Default")}, "password": e["OS_PASSWORD"]}}},
        "scope": {"project": {"name": e["OS_PROJECT_NAME"], "domain": {"name": e.get("OS_PROJECT_DOMAIN_NAME", "Default")}}}}}
    headers, doc = call("POST", e["OS_AUTH_URL"].rstrip("/").removesuffix("/v3") + "/v3/auth/tokens", auth)
    neutron = [ep["url"] for s in doc["token"]["catalog"] if s["type"] == "network" for ep in s["endpoints"]
               if ep["interface"] == "public"][0].rstrip("/")
    return headers["X-Subject-Token"], neutron + "/v2.0"


TOKEN, API = login()


def api(method, path, body=None, expect=(200, 201, 202, 204)):
    return call(method, API + path, body, TOKEN, expect)[1]


def timed_api(method, path, body=None):
    t = time.monotonic()
    doc = api(method, path, body)
    return doc, t, time.monotonic()


# --- the kernel --------------------------------------------------------------------------------------------

def ip_json(*args):
    out = subprocess.run(["ip", "-n", NS, "-j", *args], capture_output=True, text=True).stdout
    return json.loads(out or "[]")


# The tenant ranges of this test's subnets. The lab's own topology may also get routes here (a lab router's gateway
# can land in 203.0.113.128/25): those are left out of the comparisons.
MINE = ("10.77.", "fd00:77:")


def kernel_routes():
    """{destination: via} of the agent's routes (proto 200) to this test's subnets, nexthop objects resolved."""
    nh = {n["id"]: n.get("gateway") for n in ip_json("nexthop", "show")}
    have = {}
    for fam in ("-4", "-6"):
        for r in ip_json(fam, "route", "show", "proto", PROTO):
            dst = r["dst"] if "/" in r["dst"] else r["dst"] + ("/128" if ":" in r["dst"] else "/32")
            if dst.startswith(MINE):
                have[dst] = r.get("gateway") or nh.get(r.get("nhid"))
    return have


def wait(cond, start, timeout=5.0):
    """Polls until cond(routes) holds; returns ms since start (the API call's return), or None after timeout.
    LAB_EVENTS_NOWAIT=1: does not wait (returns -1), for changes made while no agent runs."""
    if os.environ.get("LAB_EVENTS_NOWAIT") == "1":
        return -1
    deadline = time.monotonic() + timeout
    while True:
        routes = kernel_routes()
        if cond(routes):
            return round((time.monotonic() - start) * 1000, 1)
        if time.monotonic() > deadline:
            return None
        time.sleep(POLL)


def report(what, t_call, t_return, latency, **extra):
    out = {"what": what, "api_ms": round((t_return - t_call) * 1000, 1), "kernel_ms": latency, "ok": latency is not None}
    out.update(extra)
    if latency is None:
        out["kernel"] = kernel_routes()
    print(json.dumps(out))
    sys.exit(0 if latency is not None else 1)


# --- what the routes should be -------------------------------------------------------------------------------

def expected(state):
    want = {}
    for r in state["routers"].values():
        for cidr in r["interfaces"]:
            via = r["gw6"] if ":" in cidr else r["gw4"]
            if via:
                want[cidr] = via
    return want


def gateway_ips(router):
    info = router.get("external_gateway_info") or {}
    ips = [f["ip_address"] for f in info.get("external_fixed_ips") or []]
    return next((i for i in ips if ":" not in i), None), next((i for i in ips if ":" in i), None)


# --- commands ------------------------------------------------------------------------------------------------

def cmd_setup(state):
    tag = str(os.getpid())
    net = api("POST", "/networks", {"network": {"name": f"mra-ev-ext-{tag}", "router:external": True,
                                                "provider:network_type": "vlan", "provider:physical_network": "physnet2"}})["network"]
    state["networks"].append(net["id"])
    v4 = api("POST", "/subnets", {"subnet": {"name": f"mra-ev-ext4-{tag}", "network_id": net["id"], "ip_version": 4,
                                             "cidr": "203.0.113.128/25", "gateway_ip": None, "enable_dhcp": False,
                                             "allocation_pools": [{"start": "203.0.113.130", "end": "203.0.113.200"}]}})["subnet"]
    v6 = api("POST", "/subnets", {"subnet": {"name": f"mra-ev-ext6-{tag}", "network_id": net["id"], "ip_version": 6,
                                             "cidr": "2001:db8:ee::/64", "gateway_ip": None, "enable_dhcp": False,
                                             "allocation_pools": [{"start": "2001:db8:ee::10", "end": "2001:db8:ee::ff"}]}})["subnet"]
    ping = api("POST", "/networks", {"network": {"name": f"mra-ev-ping-{tag}"}})["network"]
    state["networks"].append(ping["id"])
    state["ext"] = {"network": net["id"], "v4": v4["id"], "v6": v6["id"], "ping": ping["id"]}
    save(state)
    print(json.dumps(state["ext"]))


def cmd_router(state, name):
    ext = state["ext"]
    doc, t0, t1 = timed_api("POST", "/routers", {"router": {"name": name, "external_gateway_info": {
        "network_id": ext["network"], "external_fixed_ips": [{"subnet_id": ext["v4"]}, {"subnet_id": ext["v6"]}]}}})
    r = doc["router"]
    gw4, gw6 = gateway_ips(r)
    state["routers"][name] = {"id": r["id"], "gw4": gw4, "gw6": gw6, "interfaces": {}}
    save(state)
    print(json.dumps({"what": f"create router {name}", "api_ms": round((t1 - t0) * 1000, 1), "gw4": gw4, "gw6": gw6}))


def cmd_add_interface(state, name, cidr):
    r = state["routers"][name]
    net = api("POST", "/networks", {"network": {"name": f"mra-ev-{name}-{cidr.replace('/', '_')}"}})["network"]
    state["networks"].append(net["id"])
    version = 6 if ":" in cidr else 4
    sub = api("POST", "/subnets", {"subnet": {"network_id": net["id"], "cidr": cidr, "ip_version": version,
                                              "enable_dhcp": False}})["subnet"]
    state["subnets"][cidr] = sub["id"]
    save(state)
    _, t0, t1 = timed_api("PUT", f"/routers/{r['id']}/add_router_interface", {"subnet_id": sub["id"]})
    r["interfaces"][cidr] = sub["id"]
    save(state)
    via = r["gw6"] if version == 6 else r["gw4"]
    report(f"add interface {cidr} to {name}", t0, t1, wait(lambda k: k.get(cidr) == via, t1), via=via)


def change_gateway(state, name, new4, how):
    r = state["routers"][name]
    ext = state["ext"]
    if how == "router":
        fixed = [{"subnet_id": ext["v4"], "ip_address": new4}, {"subnet_id": ext["v6"], "ip_address": r["gw6"]}]
        doc, t0, t1 = timed_api("PUT", f"/routers/{r['id']}", {"router": {"external_gateway_info": {
            "network_id": ext["network"], "external_fixed_ips": fixed}}})
        gw4, gw6 = gateway_ips(doc["router"])
    else:
        ports = api("GET", f"/ports?device_id={r['id']}&device_owner=network:router_gateway")["ports"]
        port = ports[0]
        fixed = [{"subnet_id": ext["v4"], "ip_address": new4}] + [f for f in port["fixed_ips"] if ":" in f["ip_address"]]
        doc, t0, t1 = timed_api("PUT", f"/ports/{port['id']}", {"port": {"fixed_ips": fixed}})
        gw4 = next(f["ip_address"] for f in doc["port"]["fixed_ips"] if ":" not in f["ip_address"])
        gw6 = r["gw6"]
    old = r["gw4"]
    r["gw4"], r["gw6"] = gw4, gw6
    save(state)
    mine = [c for c in r["interfaces"] if ":" not in c]
    latency = wait(lambda k: all(k.get(c) == gw4 for c in mine), t1)
    report(f"change gateway of {name} {old} -> {gw4} ({'PUT /routers' if how == 'router' else 'PUT /ports of the gateway port'})",
           t0, t1, latency, routes=len(mine))


def cmd_remove_interface(state, name, cidr):
    r = state["routers"][name]
    _, t0, t1 = timed_api("PUT", f"/routers/{r['id']}/remove_router_interface", {"subnet_id": r["interfaces"][cidr]})
    del r["interfaces"][cidr]
    save(state)
    report(f"remove interface {cidr} from {name}", t0, t1, wait(lambda k: cidr not in k, t1))


def cmd_delete_router(state, name):
    r = state["routers"][name]
    gone = list(r["interfaces"])
    t0 = time.monotonic()
    for cidr, sid in list(r["interfaces"].items()):
        api("PUT", f"/routers/{r['id']}/remove_router_interface", {"subnet_id": sid})
    api("DELETE", f"/routers/{r['id']}")
    t1 = time.monotonic()
    del state["routers"][name]
    save(state)
    report(f"delete router {name} (its {len(gone)} interfaces removed first, as Neutron requires)", t0, t1,
           wait(lambda k: not any(c in k for c in gone), t1), routes=len(gone))


def cmd_touch(state):
    api("PUT", f"/networks/{state['ext']['ping']}", {"network": {"description": f"touched {time.time():.3f}"}})
    print(json.dumps({"what": "touch"}))


def cmd_wait_kernel(state, timeout):
    want = expected(state)
    t = time.monotonic()
    latency = wait(lambda k: k == want, t, float(timeout))
    print(json.dumps({"what": "kernel holds exactly the expected routes", "ms": latency, "ok": latency is not None,
                      "want": want, "have": kernel_routes()}))
    sys.exit(0 if latency is not None else 1)


def cmd_cleanup(state):
    for r in state["routers"].values():
        for sid in r["interfaces"].values():
            api("PUT", f"/routers/{r['id']}/remove_router_interface", {"subnet_id": sid}, expect=(200, 404))
        api("DELETE", f"/routers/{r['id']}", expect=(204, 404))
    for sid in state["subnets"].values():
        api("DELETE", f"/subnets/{sid}", expect=(204, 404, 409))
    for nid in reversed(state["networks"]):
        api("DELETE", f"/networks/{nid}", expect=(204, 404, 409))
    state.update(routers={}, subnets={}, networks=[])
    save(state)


state = load()
if CMD == "setup":
    cmd_setup(state)
elif CMD == "router":
    cmd_router(state, ARGS[0])
elif CMD == "add-interface":
    cmd_add_interface(state, ARGS[0], ARGS[1])
elif CMD == "set-gateway":
    change_gateway(state, ARGS[0], ARGS[1], "router")
elif CMD == "gateway-port":
    change_gateway(state, ARGS[0], ARGS[1], "port")
elif CMD == "remove-interface":
    cmd_remove_interface(state, ARGS[0], ARGS[1])
elif CMD == "delete-router":
    cmd_delete_router(state, ARGS[0])
elif CMD == "touch":
    cmd_touch(state)
elif CMD == "expect":
    print(json.dumps(expected(state)))
elif CMD == "wait-kernel":
    cmd_wait_kernel(state, ARGS[0] if ARGS else "5")
elif CMD == "cleanup":
    cmd_cleanup(state)
else:
    raise SystemExit(f"lab_events: unknown command {CMD}")
