import json, sys
n = int(sys.argv[1]); mode = sys.argv[2] if len(sys.argv) > 2 else "ok"
routers, ports, subnets = [], [], []
subnets.append({"id": "ext-v4", "network_id": "ext", "cidr": "203.0.113.0/24", "project_id": "admin", "created_at": "2025-01-01T00:00:00Z"})
for i in range(n):
    rid = "r%05d" % i
    routers.append({"id": rid, "name": rid, "project_id": "proj-%d" % (i % 7), "admin_state_up": True,
                    "gateways": [{"network_id": "ext", "external_fixed_ips": [{"subnet_id": "ext-v4", "ip_address": "203.0.113.%d" % (10 + i % 240)}]}]})
    sid = "s%05d" % i
    subnets.append({"id": sid, "network_id": "n%05d" % i, "cidr": "10.%d.%d.0/24" % (i // 256, i % 256), "project_id": "proj-%d" % (i % 7), "created_at": "2026-01-01T00:00:00Z"})
    ports.append({"id": "p%05d" % i, "device_id": rid, "device_owner": "network:router_interface", "fixed_ips": [{"subnet_id": sid, "ip_address": "10.%d.%d.1" % (i // 256, i % 256)}]})
if mode == "empty-routers":   # a valid answer listing no routers while ports still name them
    routers = []
elif mode == "empty":
    routers, ports, subnets = [], [], subnets[:1]
elif mode == "duplicate":
    dup = dict(routers[1]); dup["gateways"] = [{"network_id": "ext", "external_fixed_ips": [{"subnet_id": "ext-v4", "ip_address": "203.0.113.250"}]}]
    routers.append(dup); routers[1]["id"] = routers[0]["id"]; routers[-1]["id"] = routers[0]["id"]
print(json.dumps({"version": 1, "routers": routers, "ports": ports, "subnets": subnets,
                  "networks": [{"id": "ext", "name": "public", "router:external": True}]}))
