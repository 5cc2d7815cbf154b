// Defaults the CLI's help text names: here, in a file that imports nothing, so that cli.ts can
// show them without loading the modules that use them (see packages/core/src/cli/index.ts).

/** Where the k8s snap puts its CLI. Run by path: sudo's secure_path on Debian has no /snap/bin. */
export const DEFAULT_K8S = '/snap/bin/k8s';

export const DEFAULT_CTR = '/snap/k8s/current/bin/ctr';

/** Enough for a few hundred nodes pulling at once (containerd opens a few per pull), well under the usual 1024 open files. */
export const DEFAULT_MAX_CONNECTIONS = 256;
