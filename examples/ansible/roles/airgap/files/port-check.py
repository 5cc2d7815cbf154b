#!/usr/bin/env python3
"""The role's port preflight on one node: stand-in listeners, the probe, and their stop.

Run by ansible.builtin.script as `port-check.py MODE BASE64_JSON`, on every node, before anything
changes. Each mode prints one JSON line and exits 0 unless it cannot do its job:

listen {"address", "ports", "seconds"}: on each port that nothing listens on yet, a stand-in that
  accepts and closes connections, so that a fresh node (no k8s yet) can be probed; a port already
  in use (a node that runs k8s: upgrade, added node) is probed against what is there. The sockets
  are bound before this exits, then one detached process serves them until `stop` or `seconds`,
  whichever comes first: it never outlives the preflight by more than that.
  Prints {"listening": [ports], "in_use": [ports]}.
probe {"self", "nodes": [{"name", "address", "control_plane"}], "ports_all",
  "ports_control_plane", "timeout"}: which k8s ports of the other nodes this node cannot open a
  TCP connection to. Prints {"checked": N, "failed": ["src -> dst:port (address: reason)", ...]}
  and exits 0 either way, so that the play gathers every node's answer and names all the
  failing pairs at once. Connects in parallel: a fleet has n*(n-1) pairs, one Ansible loop item
  per pair would not scale.
stop {"address"}: ends this node's stand-ins (also one left by an interrupted run). Prints
  {"stopped": N}.
"""
import base64
import errno
import json
import os
import selectors
import signal
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor


def probe_one(target, timeout):
    name, address, port = target
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return None
    except OSError as err:
        reason = err.strerror or type(err).__name__
        if isinstance(err, socket.timeout):
            reason = f"no answer in {timeout:g}s"
        return f"{name}:{port} ({address}: {reason.lower()})"


def probe(spec):
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
        answers = list(pool.map(lambda t: probe_one(t, float(spec["timeout"])), targets))
    failed = [f"{me['name']} -> {a}" for a in answers if a]
    return {"checked": len(targets), "failed": failed}


def bind(address, port):
    """Listening sockets on address:port; on all addresses when address is not this node's
    (an address the others reach through NAT). Raises EADDRINUSE when something listens there."""
    socks = []
    try:
        for family, kind, proto, _, sockaddr in socket.getaddrinfo(address, port, type=socket.SOCK_STREAM):
            sock = socket.socket(family, kind, proto)
            socks.append(sock)
            # Connections of an earlier run still in TIME_WAIT must not pass for a listener.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(sockaddr)
            except OSError as err:
                if err.errno != errno.EADDRNOTAVAIL:
                    raise
                sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", port))
            sock.listen(64)
    except BaseException:
        for sock in socks:
            sock.close()
        raise
    return socks


def serve(socks, seconds):
    """The detached stand-in: accept and close until SIGTERM or the deadline."""
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.chdir("/")
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    selector = selectors.DefaultSelector()
    for sock in socks:
        selector.register(sock, selectors.EVENT_READ)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for key, _ in selector.select(max(deadline - time.monotonic(), 0)):
            try:
                key.fileobj.accept()[0].close()
            except OSError:
                pass
    os._exit(0)


def listen(spec):
    seconds = float(spec["seconds"])
    stop(spec)  # a stand-in left by an interrupted run would pass for a k8s service
    socks, listening, in_use = [], [], []
    try:
        for port in spec["ports"]:
            try:
                socks += bind(spec["address"], int(port))
                listening.append(port)
            except OSError as err:
                if err.errno != errno.EADDRINUSE:
                    raise
                in_use.append(port)
    except OSError as err:
        sys.exit(f"cannot listen on {spec['address']}:{port}: {err.strerror or err}")
    if socks and os.fork() == 0:
        try:
            serve(socks, seconds)
        finally:
            os._exit(0)
    for sock in socks:
        sock.close()
    return {"listening": listening, "in_use": in_use}


def standins(address):
    """Pids of the stand-ins for `address` in this network namespace (nodes may share a host)."""
    mine = os.readlink("/proc/self/ns/net")
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
            if int(pid) == os.getpid() or os.readlink(f"/proc/{pid}/ns/net") != mine:
                continue
        except OSError:
            continue
        for i, arg in enumerate(argv[:-2]):
            if os.path.basename(arg) == "port-check.py" and argv[i + 1] == "listen":
                try:
                    if json.loads(base64.b64decode(argv[i + 2]))["address"] == address:
                        pids.append(int(pid))
                except ValueError:
                    pass
                break
    return pids


def gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def stop(spec):
    pids = standins(spec["address"])
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not all(gone(p) for p in pids):
            time.sleep(0.02)
        if all(gone(p) for p in pids):
            break
    return {"stopped": len(pids)}


def main():
    mode, spec = sys.argv[1], json.loads(base64.b64decode(sys.argv[2]))
    print(json.dumps({"listen": listen, "probe": probe, "stop": stop}[mode](spec)))


main()
