#!/usr/bin/python3
"""docs/openapi.yaml against the server's own route table (`latchkey routes --json`).

Fails when a route is missing from the document or the document has an operation without a
route; when an operation's security does not match the route's access (public: none, admin:
the admin key, oauth_client: client authentication); when a $ref does not resolve, an
operationId repeats, a path parameter is undeclared, or an operation documents no response.
Usage: tests/openapi/coverage.py [LATCHKEY_BINARY] [OPENAPI_YAML]
(Debian's python3-yaml: run with /usr/bin/python3.)
"""
import json
import re
import subprocess
import sys

import yaml

binary = sys.argv[1] if len(sys.argv) > 1 else "build/latchkey"
doc_path = sys.argv[2] if len(sys.argv) > 2 else "docs/openapi.yaml"
with open(doc_path, encoding="utf-8") as f:
    doc = yaml.safe_load(f)
routes = json.loads(subprocess.run([binary, "routes", "--json"], check=True, capture_output=True, text=True).stdout)

problems = []
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def resolve(ref):
    if not ref.startswith("#/"):
        return None
    node = doc
    for part in ref[2:].split("/"):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def walk(node, where):
    if isinstance(node, dict):
        for k, v in node.items():
            if v is None:  # `{ description: a, b }` in a flow mapping: a comma split the text
                problems.append(f"{where}/{k}: no value (an unquoted comma in a flow mapping?)")
        if "$ref" in node and resolve(node["$ref"]) is None:
            problems.append(f"{where}: $ref {node['$ref']} does not resolve")
        for k, v in node.items():
            walk(v, f"{where}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            walk(v, f"{where}/{i}")


walk(doc, "#")
if not str(doc.get("openapi", "")).startswith("3.1"):
    problems.append("not an OpenAPI 3.1 document")

documented = {}
operation_ids = set()
default_security = doc.get("security", [])
for path, item in doc.get("paths", {}).items():
    shared_params = item.get("parameters", [])
    for method, op in item.items():
        if method not in METHODS:
            continue
        documented[(method.upper(), path)] = op
        oid = op.get("operationId")
        if not oid:
            problems.append(f"{method.upper()} {path}: no operationId")
        elif oid in operation_ids:
            problems.append(f"{method.upper()} {path}: operationId {oid} repeats")
        operation_ids.add(oid)
        if not op.get("responses"):
            problems.append(f"{method.upper()} {path}: no responses")
        params = [resolve(p["$ref"]) if "$ref" in p else p for p in shared_params + op.get("parameters", [])]
        declared = {p["name"] for p in params if p and p.get("in") == "path"}
        for name in re.findall(r"\{([^}]+)\}", path):
            if name not in declared:
                problems.append(f"{method.upper()} {path}: path parameter {name} undeclared")

# The console's own routes (its page, login, session, logout) live only on console_listen:
# they are the console's implementation, documented in docs/api.md ("Console"), not the API.
served = {(r["method"], r["path"]): r for r in routes if r["listener"] != "console"}
for key in sorted(served.keys() - documented.keys()):
    problems.append(f"route {key[0]} {key[1]} is not in {doc_path}")
for key in sorted(documented.keys() - served.keys()):
    problems.append(f"{doc_path} documents {key[0]} {key[1]}, which no route serves")

for key in sorted(served.keys() & documented.keys()):
    access = served[key]["access"]
    security = documented[key].get("security", default_security)
    schemes = {name for requirement in security for name in requirement}
    want = {"public": set(), "admin": {"adminKey"}, "admin_read": {"adminKey"}, "oauth_client": {"clientBasic"}}[access]
    # A resource route (userinfo) is public to the framework and checks its access token itself.
    if access == "public" and schemes and schemes <= {"accessToken", "dpopAccessToken"}:
        want = schemes
    if schemes != want:
        problems.append(f"{key[0]} {key[1]}: access {access} but security {sorted(schemes)}")
    responses = documented[key].get("responses", {})
    if access in ("admin", "admin_read") and "401" not in responses:
        problems.append(f"{key[0]} {key[1]}: an admin route without its 401")
    if access == "admin" and "403" not in responses:
        problems.append(f"{key[0]} {key[1]}: a route that writes without its 403 (a read-only key is refused there)")

for p in problems:
    print("openapi:", p)
print(f"openapi: {len(served)} routes, {len(documented)} documented operations, {len(problems)} problems")
sys.exit(1 if problems else 0)
