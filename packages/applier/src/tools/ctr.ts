import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { execa, type ExecaError } from 'execa';
import { AirgapError, eachLimit, isAirgapError, runTool } from '@airgap/core';
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

/** What `ctr images ls` says of one image name. */
export interface CtrImage {
  digest: string;
  labels: Record<string, string>;
}

/**
 * kubelet's image GC skips images with this label (the CRI's pinned flag, containerd 1.7+: k8s
 * 1.33+). containerd 1.6 (k8s 1.32) keeps the label but its CRI does not report it as pinned.
 */
export const PINNED_LABEL = 'io.cri-containerd.pinned';

/** Image name → target digest and labels, from `ctr images ls` (REF TYPE DIGEST SIZE PLATFORMS LABELS; SIZE is two words). */
export async function ctrImages(o: CtrOptions): Promise<Map<string, CtrImage>> {
  const r = await runTool(o.ctr, [...base(o), 'images', 'ls'], { timeout: QUICK });
  const images = new Map<string, CtrImage>();
  for (const line of r.stdout.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    const [ref, , digest] = cols;
    if (ref && digest?.startsWith('sha256:')) images.set(ref, { digest, labels: parseLabels(cols.length > 6 ? cols[cols.length - 1] : undefined) });
  }
  return images;
}

function parseLabels(text: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  if (!text || text === '-') return labels;
  for (const kv of text.split(',')) {
    const eq = kv.indexOf('=');
    if (eq > 0) labels[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return labels;
}

/** Every digest in containerd's content store for k8s.io (`ctr content ls -q`): what an import may leave out of its tar. */
export async function ctrContentDigests(o: CtrOptions): Promise<Set<string>> {
  const r = await runTool(o.ctr, [...base(o), 'content', 'ls', '-q'], { timeout: QUICK });
  return new Set(
    r.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith('sha256:')),
  );
}

/** `ctr images label NAME key=value`; an empty value clears the label. */
export async function ctrLabel(o: CtrOptions, ref: string, label: string, value: string): Promise<void> {
  await runTool(o.ctr, [...base(o), 'images', 'label', ref, `${label}=${value}`], { timeout: QUICK });
}

/** How many `ctr images label` processes run at once: the time is ctr starting and dialling, not containerd's work. */
export const LABEL_JOBS = 4;

/**
 * The same label on every ref, a few calls at a time. ctr 1.6 labels one image per call
 * (containerd v1.6.20 cmd/ctr/commands/images/images.go, setLabelsCommand: `<name> [<key>=<value>, ...]`)
 * and `images import` sets no labels (import.go: no such ImportOpt), so a bundle of 12 refs was
 * 12 processes in a row. On the first failure no new call starts; the ones running are waited for
 * and that first error is thrown. A ref left unlabelled is pinned by the next run (the images step's check).
 */
export async function ctrLabelEach(o: CtrOptions, refs: readonly string[], label: string, value: string): Promise<void> {
  await eachLimit(refs, LABEL_JOBS, (ref) => ctrLabel(o, ref, label, value));
}

/** The IMAGE of every container in k8s.io (`ctr containers ls`: CONTAINER IMAGE RUNTIME): what containerd says is in use. */
export async function ctrContainerImages(o: CtrOptions): Promise<string[]> {
  const r = await runTool(o.ctr, [...base(o), 'containers', 'ls'], { timeout: QUICK });
  return r.stdout
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/)[1])
    .filter((image): image is string => Boolean(image));
}

/** `ctr images rm NAME`: the name goes; containerd's GC drops content no other name holds. */
export async function ctrRemoveImage(o: CtrOptions, ref: string): Promise<void> {
  await runTool(o.ctr, [...base(o), 'images', 'rm', ref], { timeout: QUICK });
}

/**
 * What ctr prints once every image of the tar has its name, before it unpacks the first one
 * (containerd v1.6.20 cmd/ctr/commands/images/import.go: `client.Import` creates the names, then
 * `fmt.Printf("unpacking %s (%s)...", ...)` per image).
 */
const UNPACKING = 'unpacking ';

export interface CtrImportOptions {
  /**
   * Called once, as soon as ctr says it unpacks: the images are named then, so labels can go on
   * while the layers unpack. Never called when ctr does not get that far.
   */
  onNamed?: () => void;
}

/** `ctr images import -`, fed an OCI-layout tar on stdin. */
export async function ctrImport(o: CtrOptions, tar: Readable, opts: CtrImportOptions = {}): Promise<void> {
  const args = [...base(o), 'images', 'import', '-'];
  const sub = execa(o.ctr, args, { stdin: 'pipe', timeout: SLOW, stripFinalNewline: true });
  const { onNamed } = opts;
  if (onNamed) {
    let head = '';
    const watch = (chunk: Buffer) => {
      head += chunk.toString('utf8');
      if (!head.includes(UNPACKING)) return void (head = head.slice(-UNPACKING.length));
      sub.stdout.off('data', watch);
      onNamed();
    };
    sub.stdout.on('data', watch);
  }
  const [ran, fed] = await Promise.allSettled([sub, pipeline(tar, sub.stdin)]);
  // The tar could not be built (e.g. a blob failed its digest): that error, not ctr's, is the cause.
  if (fed.status === 'rejected' && (isAirgapError(fed.reason) || ran.status === 'fulfilled')) throw fed.reason;
  if (ran.status === 'rejected') {
    const err: unknown = ran.reason;
    const e = err as ExecaError;
    const detail = String(e.stderr ?? '')
      .trim()
      .split('\n')
      .slice(-3)
      .join(' / ');
    throw new AirgapError('TOOL_FAILED', `${[o.ctr, ...args].join(' ')} failed: ${e.shortMessage ?? e.message}${detail ? `: ${detail}` : ''}`, {
      hint: e.code === 'ENOENT' ? `${o.ctr} not found: is the k8s snap installed? (--ctr PATH overrides)` : undefined,
      cause: err,
    });
  }
}
