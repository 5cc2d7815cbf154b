import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { execa, type ExecaError } from 'execa';
import { AirgapError, isAirgapError, runTool } from '@airgap/core';
import { QUICK, SLOW } from './exec-tool.ts';

export interface CtrOptions {
  /** The k8s snap's own ctr, e.g. /snap/k8s/current/bin/ctr. */
  ctr: string;
  /** containerd's socket, e.g. /run/containerd/containerd.sock. */
  address: string;
}

/** Kubelet only sees images in this namespace. */
export const K8S_NAMESPACE = 'k8s.io';

const base = (o: CtrOptions) => ['--address', o.address, '--namespace', K8S_NAMESPACE];

/** Image name → target digest, from `ctr images ls` (REF TYPE DIGEST SIZE PLATFORMS LABELS). */
export async function ctrImages(o: CtrOptions): Promise<Map<string, string>> {
  const r = await runTool(o.ctr, [...base(o), 'images', 'ls'], { timeout: QUICK });
  const images = new Map<string, string>();
  for (const line of r.stdout.split('\n').slice(1)) {
    const [ref, , digest] = line.trim().split(/\s+/);
    if (ref && digest?.startsWith('sha256:')) images.set(ref, digest);
  }
  return images;
}

/** `ctr images import -`, fed an OCI-layout tar on stdin. */
export async function ctrImport(o: CtrOptions, tar: Readable): Promise<void> {
  const args = [...base(o), 'images', 'import', '-'];
  const sub = execa(o.ctr, args, { stdin: 'pipe', timeout: SLOW, stripFinalNewline: true });
  const [ran, fed] = await Promise.allSettled([sub, pipeline(tar, sub.stdin)]);
  // The tar could not be built (e.g. a blob failed its digest): that error, not ctr's, is the cause.
  if (fed.status === 'rejected' && (isAirgapError(fed.reason) || ran.status === 'fulfilled')) throw fed.reason;
  if (ran.status === 'rejected') {
    const err: unknown = ran.reason;
    const e = err as ExecaError;
    const detail = String(e.stderr ?? '').trim().split('\n').slice(-3).join(' / ');
    throw new AirgapError('TOOL_FAILED', `${[o.ctr, ...args].join(' ')} failed: ${e.shortMessage ?? e.message}${detail ? `: ${detail}` : ''}`, {
      hint: e.code === 'ENOENT' ? `${o.ctr} not found: is the k8s snap installed? (--ctr PATH overrides)` : undefined,
      cause: err,
    });
  }
}
