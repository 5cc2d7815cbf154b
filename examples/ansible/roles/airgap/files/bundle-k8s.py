#!/usr/bin/env python3
"""What the role needs to know about the bundle's k8s before anything is copied: `bundle-k8s.py
BUNDLE.tar` prints {"k8s": manifest.k8s or null} as one JSON line (exit 1 when it cannot).

Run on the controller. The signed manifest (airgap/manifest.json) is the bundle's first tar
entry, so only its header and data are read, not the gigabytes behind it; `tar -xOf` would read
the whole archive looking for more entries of that name. The signature is not checked here: the
applier checks it on every node before it uses anything. This only picks which ports the port
preflight probes, so a value outside the known ones fails rather than probing a guess.
"""
import json
import sys
import tarfile

MANIFEST = "airgap/manifest.json"
# Far above a real manifest (one entry per file of the bundle); a bigger first entry is not ours.
MAX_BYTES = 64 << 20


def main():
    bundle = sys.argv[1]
    try:
        with tarfile.open(bundle, "r:") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST or not first.isfile() or first.size > MAX_BYTES:
                sys.exit(f"{bundle}: the first entry is not {MANIFEST}: is this an airgap bundle?")
            manifest = json.load(tar.extractfile(first))
    except (OSError, tarfile.TarError, ValueError) as err:
        sys.exit(f"{bundle}: cannot read {MANIFEST}: {err}")
    k8s = manifest.get("k8s") if isinstance(manifest, dict) else None
    print(json.dumps({"k8s": k8s if isinstance(k8s, dict) else None}))


main()
