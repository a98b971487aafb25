#!/usr/bin/env python3
"""The 2013 method, for reference: per router three Neutron requests, per route one `ip` process.

Run it inside the benchmark's network namespace (`ip netns exec NS method-2013.py --api URL --dev ext0`):
  1. GET /v2.0/routers (the list, once; unpaginated requests are paged by the server, so follow next links)
  2. for every router:  GET /v2.0/routers/<id>                      (its gateway addresses)
                        GET /v2.0/ports?device_id=<id>&device_owner=network:router_interface
                        GET /v2.0/subnets?id=<a>&id=<b>…            (the CIDRs of its interfaces)
  3. for every tenant subnet: one `ip route add CIDR via GATEWAY dev DEV proto N` process.
Prints one JSON object: requests, bytes, api_seconds, kernel_seconds, routes, failures.
"""
import argparse
import http.client
import json
import subprocess
import sys
import time
import urllib.parse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True, help="Neutron endpoint, e.g. http://127.0.0.1:9696/")
    ap.add_argument("--dev", required=True)
    ap.add_argument("--proto", default="200")
    a = ap.parse_args()
    url = urllib.parse.urlsplit(a.api)
    # 2013: one HTTP connection per request (no keep-alive), JSON parsed fully each time.
    stats = {"requests": 0, "bytes": 0}

    def get(path):
        conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=30)
        conn.request("GET", path, headers={"Accept": "application/json", "Connection": "close"})
        r = conn.getresponse()
        body = r.read()
        conn.close()
        stats["requests"] += 1
        stats["bytes"] += len(body)
        if r.status != 200:
            raise SystemExit(f"method-2013: GET {path} answered {r.status}: {body[:200]!r}")
        return json.loads(body)

    t0 = time.monotonic()
    routers = []
    path = "/v2.0/routers"
    while path:
        page = get(path)
        routers += page["routers"]
        nxt = [l["href"] for l in page.get("routers_links", []) if l["rel"] == "next"]
        path = None
        if nxt and page["routers"]:
            q = urllib.parse.urlsplit(nxt[0])
            path = q.path + "?" + q.query
    todo = []   # (cidr, gateway)
    for r in routers:
        rid = r["id"]
        router = get(f"/v2.0/routers/{rid}")["router"]
        info = router.get("external_gateway_info") or {}
        gw = {}
        for ip in info.get("external_fixed_ips", []):
            gw[6 if ":" in ip["ip_address"] else 4] = ip["ip_address"]
        ports = get(f"/v2.0/ports?device_id={rid}&device_owner=network:router_interface")["ports"]
        ids = [ip["subnet_id"] for p in ports for ip in p["fixed_ips"]]
        if not ids or not gw:
            continue
        subnets = get("/v2.0/subnets?" + "&".join(f"id={i}" for i in ids))["subnets"]
        for s in subnets:
            g = gw.get(s["ip_version"])
            if g:
                todo.append((s["cidr"], g))
    t1 = time.monotonic()
    failures = 0
    for cidr, g in todo:
        fam = "-6" if ":" in cidr else "-4"
        rc = subprocess.run(["ip", fam, "route", "add", cidr, "via", g, "dev", a.dev, "proto", a.proto],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        failures += rc != 0
    t2 = time.monotonic()
    json.dump({"routers": len(routers), "requests": stats["requests"], "bytes": stats["bytes"],
               "api_seconds": round(t1 - t0, 3), "kernel_seconds": round(t2 - t1, 3),
               "routes": len(todo), "failures": failures}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
