#!/usr/bin/env python3
"""Turns the agent's routes and nexthops (as `ip -j` dumped them) into two `ip -batch` files for the
same routes: one with nexthop objects (`nexthop add` + `route add … nhid`), one with classic `via` routes.

usage: batch-files.py ROUTES4.json ROUTES6.json NEXTHOPS.json OUT_NEXTHOP.batch OUT_CLASSIC.batch DEV PROTO
"""
import json
import sys

r4, r6, nhf, out_nh, out_classic, dev, proto = sys.argv[1:8]
routes = json.load(open(r4)) + json.load(open(r6))
# Only the agent's nexthops (`ip -j` prints the protocol as its number: 200 has no name in rt_protos).
nexthops = {n["id"]: n for n in json.load(open(nhf)) if str(n.get("protocol", "")) == proto}

def gateway(r):
    if "nhid" in r:
        if r["nhid"] not in nexthops:
            sys.exit(f"batch-files: route {r['dst']} uses nexthop {r['nhid']}, which is not one with protocol {proto}")
        return nexthops[r["nhid"]]["gateway"]
    return r["gateway"]

used = sorted({r["nhid"] for r in routes if "nhid" in r})
with open(out_nh, "w") as f:
    ids = {}
    # One nexthop per distinct gateway, IDs as the agent chose them when it used objects, else fresh.
    for r in routes:
        g = gateway(r)
        if g not in ids:
            ids[g] = r.get("nhid") or (len(ids) + 1)
            f.write(f"nexthop add id {ids[g]} via {g} dev {dev} proto {proto}\n")
    for r in routes:
        f.write(f"route add {r['dst']} nhid {ids[gateway(r)]} proto {proto}\n")
with open(out_classic, "w") as f:
    for r in routes:
        f.write(f"route add {r['dst']} via {gateway(r)} dev {dev} proto {proto}\n")
print(json.dumps({"routes": len(routes), "nexthops": len(ids)}))
