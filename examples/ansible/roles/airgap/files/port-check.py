#!/usr/bin/env python3
"""Which k8s ports of the other nodes this node cannot open a TCP connection to.

Run by the role's preflight on every node (ansible.builtin.script), before anything changes.
argv[1]: base64 JSON {"self": NAME, "nodes": [{"name", "address", "control_plane"}],
"ports_all": [...], "ports_control_plane": [...], "timeout": SECONDS}.
Prints JSON {"checked": N, "failed": ["src -> dst:port (address: reason)", ...]}; exits 0 either
way so that the play can gather every node's answer and name all the failing pairs at once.
Connects in parallel: a fleet has n*(n-1) pairs, one Ansible loop item per pair would not scale.
"""
import base64
import json
import socket
import sys
from concurrent.futures import ThreadPoolExecutor


def probe(target, timeout):
    name, address, port = target
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return None
    except OSError as err:
        reason = err.strerror or type(err).__name__
        if isinstance(err, socket.timeout):
            reason = f"no answer in {timeout}s"
        return f"{name}:{port} ({address}: {reason.lower()})"


def main():
    spec = json.loads(base64.b64decode(sys.argv[1]))
    me = next(n for n in spec["nodes"] if n["name"] == spec["self"])
    targets = []
    for node in spec["nodes"]:
        if node["name"] == me["name"]:
            continue
        ports = list(spec["ports_all"])
        # The datastore (etcd, or k8s-dqlite) runs on control-plane nodes and only they talk to it.
        if me["control_plane"] and node["control_plane"]:
            ports += spec["ports_control_plane"]
        targets += [(node["name"], node["address"], int(p)) for p in ports]
    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(lambda t: probe(t, float(spec["timeout"])), targets))
    failed = [f"{me['name']} -> {a}" for a in answers if a]
    print(json.dumps({"checked": len(targets), "failed": failed}))


main()
