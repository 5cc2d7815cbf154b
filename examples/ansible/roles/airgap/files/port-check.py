#!/usr/bin/env python3
"""The role's port preflight on one node: stand-in listeners, the probe, and their stop.

Run by ansible.builtin.script as `port-check.py MODE BASE64_JSON`, on every node, before anything
changes. Each mode prints one JSON line and exits 0 unless it cannot do its job:

listen {"address", "tcp": [ports], "udp": [ports], "seconds"}: on each port that nothing listens
  on yet, a stand-in, so that a fresh node (no k8s yet) can be probed: on TCP one that accepts and
  closes connections, on UDP one that answers the probe's datagram (UDP has no handshake: without
  an answer, "no reply" could not tell a firewall that drops from a port nobody reads). A port
  already in use (a node that runs k8s: upgrade, added node) is probed against what is there. The
  sockets are bound before this exits, then one detached process serves them until `stop` or
  `seconds`, whichever comes first: it never outlives the preflight by more than that.
  Prints {"listening": {"tcp": [ports], "udp": [ports]}, "in_use": {"tcp": [...], "udp": [...]}}.
probe {"self", "nodes": [{"name", "address", "control_plane", "udp_in_use"}], "ports_all",
  "ports_control_plane", "udp_ports_all", "timeout"}: which k8s ports of the other nodes this node
  cannot reach. TCP: a connection. UDP: a datagram, sent again until the answer comes or the
  timeout ends; an ICMP port-unreachable (a firewall that rejects) fails at once, silence fails as
  a drop. A UDP port another program holds on the target (udp_in_use: Cilium's own VXLAN socket,
  which never answers) can only show a reject, so silence there passes. Prints {"checked": N,
  "failed": ["src -> dst:port (address: reason)", "src -> dst:port/udp (...)", ...]} and exits 0
  either way, so that the play gathers every node's answer and names all the failing pairs at
  once. Probes in parallel: a fleet has n*(n-1) pairs, one Ansible loop item per pair would not
  scale.
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


# The stand-in answers exactly this datagram, so a stray packet on the port gets no reply.
PROBE = b"airgap-port-check probe"
ANSWER = b"airgap-port-check answer"


def reason_of(err, timeout):
    if isinstance(err, socket.timeout):
        return f"no answer in {timeout:g}s"
    return (err.strerror or type(err).__name__).lower()


def probe_tcp(address, port, timeout):
    with socket.create_connection((address, port), timeout=timeout):
        pass


def probe_udp(address, port, timeout, answers):
    """Raises socket.timeout when no answer came (only if `answers`: a stand-in is there)."""
    family, kind, proto, _, sockaddr = socket.getaddrinfo(address, port, type=socket.SOCK_DGRAM)[0]
    with socket.socket(family, kind, proto) as sock:
        # Connected: the kernel then reports an ICMP port-unreachable as ECONNREFUSED.
        sock.connect(sockaddr)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                if answers:
                    raise socket.timeout()
                return
            # Datagrams may be lost on the way: send again every half second.
            sock.send(PROBE)
            sock.settimeout(min(0.5, left))
            try:
                if sock.recv(64) == ANSWER:
                    return
            except socket.timeout:
                pass


def probe_one(target, timeout):
    name, address, port, proto, answers = target
    label = f"{name}:{port}" + ("/udp" if proto == "udp" else "")
    try:
        if proto == "udp":
            probe_udp(address, port, timeout, answers)
        else:
            probe_tcp(address, port, timeout)
        return None
    except OSError as err:
        return f"{label} ({address}: {reason_of(err, timeout)})"


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
        targets += [(node["name"], node["address"], int(p), "tcp", True) for p in ports]
        held = {int(p) for p in node.get("udp_in_use", [])}
        targets += [(node["name"], node["address"], int(p), "udp", int(p) not in held) for p in spec.get("udp_ports_all", [])]
    timeout = float(spec["timeout"])
    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(lambda t: probe_one(t, timeout), targets))
    failed = [f"{me['name']} -> {a}" for a in answers if a]
    return {"checked": len(targets), "failed": failed}


def bind(address, port, kind):
    """Sockets bound to address:port (listening, for TCP); on all addresses when address is not
    this node's (an address the others reach through NAT). Raises EADDRINUSE when something holds
    the port."""
    socks = []
    try:
        for family, kind, proto, _, sockaddr in socket.getaddrinfo(address, port, type=kind):
            sock = socket.socket(family, kind, proto)
            socks.append(sock)
            if kind == socket.SOCK_STREAM:
                # Connections of an earlier run still in TIME_WAIT must not pass for a listener.
                # Not on UDP: there it would let the stand-in share a port with a real program.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(sockaddr)
            except OSError as err:
                if err.errno != errno.EADDRNOTAVAIL:
                    raise
                sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", port))
            if kind == socket.SOCK_STREAM:
                sock.listen(64)
    except BaseException:
        for sock in socks:
            sock.close()
        raise
    return socks


def serve(socks, seconds):
    """The detached stand-in: accept and close (TCP), answer the probe (UDP), until SIGTERM or
    the deadline."""
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
            sock = key.fileobj
            try:
                if sock.type == socket.SOCK_DGRAM:
                    data, peer = sock.recvfrom(64)
                    if data == PROBE:
                        sock.sendto(ANSWER, peer)
                else:
                    sock.accept()[0].close()
            except OSError:
                pass
    os._exit(0)


def listen(spec):
    seconds = float(spec["seconds"])
    stop(spec)  # a stand-in left by an interrupted run would pass for a k8s service
    socks = []
    listening, in_use = {"tcp": [], "udp": []}, {"tcp": [], "udp": []}
    try:
        for proto, kind in (("tcp", socket.SOCK_STREAM), ("udp", socket.SOCK_DGRAM)):
            for port in spec.get(proto, []):
                try:
                    socks += bind(spec["address"], int(port), kind)
                    listening[proto].append(port)
                except OSError as err:
                    if err.errno != errno.EADDRINUSE:
                        raise
                    in_use[proto].append(port)
    except OSError as err:
        for sock in socks:
            sock.close()
        label = f"{port}/udp" if proto == "udp" else port
        sys.exit(f"cannot listen on {spec['address']}:{label}: {err.strerror or err}")
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
