#!/usr/bin/env python3
"""A small stand-in for Neutron's REST API (no Keystone: use OS_AUTH_TYPE=none), for end-to-end tests.

It serves the cloud described by a snapshot file (the agent's --snapshot format, Model.CloudSnapshot)
the way a real neutron-server answers list requests, re-reading the file on every request so that a
test changes "Neutron" by rewriting the file:

  GET /                       versions document
  GET /v2.0/extensions        a few aliases
  GET /v2.0/routers           gateways shown as external_gateway_info (+ external_gateways)
  GET /v2.0/ports             router interface ports
  GET /v2.0/subnets           with ip_version derived from the CIDR
  GET /v2.0/networks          with router:external

Query parameters behave as in Neutron: `fields=` (repeatable; unknown fields ignored), filters by
attribute (repeatable = OR, e.g. device_owner=a&device_owner=b; booleans as true/false), and
pagination with `limit`/`marker` and a `<resource>_links` "next" link whenever a page is full.
Each request is logged as one line "GET <path>?<query> <status>" to stderr.

Usage: fake-neutron.py --snapshot FILE [--bind 127.0.0.1] [--port 9696]
"""

import argparse
import ipaddress
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

PAGING_KEYS = {"fields", "limit", "marker", "page_reverse", "sort_key", "sort_dir"}


def neutron_view(snapshot):
    """The snapshot's objects, shaped as Neutron's API returns them, keyed by collection name."""
    routers = []
    for r in snapshot.get("routers", []):
        gateways = r.get("gateways", [])
        router = {k: v for k, v in r.items() if k != "gateways"}
        router.setdefault("admin_state_up", True)
        router.setdefault("status", "ACTIVE")
        router.setdefault("tags", [])
        router["tenant_id"] = router.get("project_id", "")
        router["external_gateway_info"] = gateways[0] if gateways else None
        router["external_gateways"] = gateways
        routers.append(router)
    subnets = []
    for s in snapshot.get("subnets", []):
        subnet = dict(s)
        subnet["ip_version"] = ipaddress.ip_network(s["cidr"], strict=False).version
        subnet["tenant_id"] = subnet.get("project_id", "")
        subnets.append(subnet)
    networks = []
    for n in snapshot.get("networks", []):
        network = dict(n)
        network.setdefault("router:external", False)
        networks.append(network)
    return {"routers": routers, "ports": list(snapshot.get("ports", [])), "subnets": subnets, "networks": networks}


def matches(obj, filters):
    """Neutron filter semantics: every key must match; repeated values of one key are alternatives."""
    for key, wanted in filters.items():
        value = obj.get(key)
        if isinstance(value, bool):
            value = "true" if value else "false"
            wanted = [w.lower() for w in wanted]
        if str(value) not in wanted:
            return False
    return True


class Handler(BaseHTTPRequestHandler):
    server_version = "fake-neutron/1"

    def log_message(self, fmt, *args):  # one line per request, to stderr
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        sys.stderr.write(f"GET {self.path} {status}\n")
        sys.stderr.flush()

    def do_GET(self):
        url = urlsplit(self.path)
        path = url.path.rstrip("/")
        query = parse_qs(url.query, keep_blank_values=True)
        base = f"http://{self.headers.get('Host', '127.0.0.1')}"
        if path == "":
            return self.reply(200, {"versions": [{"id": "v2.0", "status": "CURRENT",
                                                  "links": [{"rel": "self", "href": f"{base}/v2.0/"}]}]})
        if path == "/v2.0/extensions":
            aliases = ["router", "external-net", "ext-gw-mode", "standard-attr-timestamp", "pagination", "project-id"]
            return self.reply(200, {"extensions": [{"alias": a, "name": a} for a in aliases]})
        collection = path.removeprefix("/v2.0/")
        if collection.endswith(".json"):
            collection = collection[: -len(".json")]
        try:
            with open(self.server.snapshot_path) as f:
                view = neutron_view(json.load(f))
        except (OSError, ValueError) as e:
            return self.reply(500, {"NeutronError": {"type": "Internal", "message": f"snapshot unreadable: {e}", "detail": ""}})
        if collection not in view:
            return self.reply(404, {"NeutronError": {"type": "HTTPNotFound",
                                                     "message": f"The resource could not be found.", "detail": ""}})

        filters = {k: v for k, v in query.items() if k not in PAGING_KEYS}
        items = [o for o in view[collection] if matches(o, filters)]
        items.sort(key=lambda o: o.get("id", ""))

        body_links = []
        if "limit" in query:
            try:
                limit = int(query["limit"][0])
            except ValueError:
                return self.reply(400, {"NeutronError": {"type": "HTTPBadRequest",
                                                         "message": "limit must be an integer", "detail": ""}})
            if "marker" in query:
                marker = query["marker"][0]
                items = [o for o in items if o.get("id", "") > marker]
            items = items[:limit] if limit > 0 else items
            if limit > 0 and len(items) == limit:  # as Neutron: a full page always has a next link
                next_query = {k: v for k, v in query.items() if k != "marker"}
                next_query["marker"] = [items[-1]["id"]]
                body_links = [{"rel": "next", "href": f"{base}{url.path}?{urlencode(next_query, doseq=True)}"}]

        fields = query.get("fields")
        if fields:
            items = [{k: v for k, v in o.items() if k in fields} for o in items]
        body = {collection: items}
        if body_links:
            body[f"{collection}_links"] = body_links
        return self.reply(200, body)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshot", required=True)
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9696)
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.bind, args.port), Handler)
    server.snapshot_path = args.snapshot
    server.serve_forever()


if __name__ == "__main__":
    main()
