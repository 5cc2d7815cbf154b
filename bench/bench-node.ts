import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { startContainerd, type TestContainerd } from '../test/support/containerd.ts';

const fakeBin = path.resolve('test/fixtures/bin');

/**
 * A node for `applier apply --root`: a file tree, the fake snap/k8s/systemctl of the tests on PATH
 * (the real ones cannot run here), and a real containerd of its own, started fresh on demand.
 */
export interface BenchNode {
  root: string;
  env: Record<string, string>;
  containerd(): TestContainerd;
  /** Stop containerd and start an empty one (its images, content and snapshots gone). */
  freshContainerd(): Promise<void>;
  /** `applier apply` arguments for this node. */
  applyArgs(bundle: string, pub: string): string[];
  remove(): Promise<void>;
}

export async function makeNode(dir: string): Promise<BenchNode> {
  const root = path.join(dir, 'root');
  await mkdir(root, { recursive: true });
  const env = {
    PATH: `${fakeBin}:${process.env.PATH ?? ''}`,
    FAKE_NODE_DIR: path.join(dir, 'fake-node'),
    FAKE_CALL_LOG: path.join(dir, 'calls.log'),
    FAKE_CLUSTER_DIR: path.join(dir, 'cluster'),
    FAKE_ROOT: root,
    AIRGAP_READY_POLL_MS: '10',
  };
  let ctd = await startContainerd();
  return {
    root,
    env,
    containerd: () => ctd,
    async freshContainerd() {
      await ctd.stop();
      ctd = await startContainerd();
    },
    applyArgs: (bundle, pub) => ['apply', bundle, '--pub', pub, '--root', root, '--ctr', 'ctr', '--containerd-address', ctd.address],
    async remove() {
      await ctd.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** `ctr images import` of an OCI archive into k8s.io: what the applier is compared with. */
export function ctrImportArgs(node: BenchNode, tar: string): string[] {
  return ['--address', node.containerd().address, '--namespace', 'k8s.io', 'images', 'import', tar];
}

/** The bundle's image layout as one OCI archive (same index, same names): what an operator would import. */
export async function imagesTar(bundle: string, dir: string): Promise<string> {
  const x = path.join(dir, 'x');
  await mkdir(x, { recursive: true });
  await execa('tar', ['-xf', bundle, '-C', x, 'images']);
  const out = path.join(dir, 'images.tar');
  await execa('tar', ['-cf', out, '-C', path.join(x, 'images'), 'oci-layout', 'index.json', 'blobs']);
  await rm(x, { recursive: true, force: true });
  return out;
}
