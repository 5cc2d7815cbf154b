import {
  formatBytes,
  omittedBytes,
  readManifestUnverified,
  type BundleEvidence,
  type BundleImageVerified,
  type BundleK8s,
  type BundleManifest,
  type WrittenHead,
} from '@airgap/core';
import { applierEntryPlatform } from '../applier-binaries.ts';

export interface InspectResult {
  file: string;
  name: string;
  createdAt: string;
  signer: string;
  platforms: string[];
  snaps: { name: string; revision: number; role: string; classic: boolean; size: number }[];
  images: { ref: string; digest: string; verified?: BundleImageVerified; evidence?: BundleEvidence[] }[];
  files: { path: string; size: number; sha256: string }[];
  /** The standalone applier executables the bundle carries (none when built with --no-applier). */
  appliers: { platform: string; path: string; size: number; sha256: string }[];
  totalBytes: number;
  hostsDir: string;
  /** The k8s release, datastore and containerd base dir the bundle was built for (absent in older bundles). */
  k8s?: BundleK8s;
  /** Only for a delta bundle: its base and what it leaves out. */
  delta?: { of: string; name: string; sequence?: number; omitted: number; omittedBytes: number };
}

/** What a bundle holds, from its manifest. Does not check the signature: that is `verify`. */
export async function inspect(file: string): Promise<InspectResult> {
  return summarize(file, await readManifestUnverified(file));
}

export function summarize(file: string, m: BundleManifest): InspectResult {
  return {
    file,
    name: m.name,
    createdAt: m.createdAt,
    signer: m.signer,
    platforms: m.platforms,
    snaps: m.snaps.map((s) => ({ name: s.name, revision: s.revision, role: s.role, classic: s.classic, size: s.size })),
    images: m.images.map((i) => ({
      ref: i.ref,
      digest: i.digest,
      ...(i.verified ? { verified: i.verified } : {}),
      ...(i.evidence?.length ? { evidence: i.evidence } : {}),
    })),
    files: m.entries.map((e) => ({ path: e.path, size: e.size, sha256: e.sha256 })),
    appliers: m.entries.flatMap((e) => {
      const platform = applierEntryPlatform(e.path);
      return platform ? [{ platform, path: e.path, size: e.size, sha256: e.sha256 }] : [];
    }),
    totalBytes: m.entries.reduce((n, e) => n + e.size, 0),
    hostsDir: m.containerd.hostsDir,
    ...(m.k8s ? { k8s: m.k8s } : {}),
    ...(m.base
      ? {
          delta: {
            of: m.base.digest,
            name: m.base.name,
            ...(m.base.sequence !== undefined ? { sequence: m.base.sequence } : {}),
            omitted: m.base.omitted.length,
            omittedBytes: omittedBytes(m),
          },
        }
      : {}),
  };
}

/** `delta of sha256:… (NAME #SEQ), leaves out N entries (X GiB)`. */
export function formatDelta(d: NonNullable<InspectResult['delta']>): string {
  const seq = d.sequence !== undefined ? ` #${d.sequence}` : '';
  return `delta of ${d.of} (${d.name}${seq}), leaves out ${d.omitted} ${d.omitted === 1 ? 'entry' : 'entries'} (${formatBytes(d.omittedBytes)})`;
}

export function formatInspect(r: InspectResult): string {
  const lines = [
    `bundle   ${r.name}  (${r.file})`,
    `created  ${r.createdAt}`,
    `signer   ${r.signer}  (claimed by the manifest; check it with \`verify --pub\`)`,
    `payload  ${r.files.length} files, ${formatBytes(r.totalBytes)}`,
    ...(r.delta ? [formatDelta(r.delta)] : []),
    ...(r.k8s
      ? [`k8s      ${r.k8s.release}, datastore ${r.k8s.datastore}${r.k8s.containerdBaseDir ? `, containerd base ${r.k8s.containerdBaseDir}` : ''}`]
      : []),
    `snaps:`,
    ...r.snaps.map(
      (s) => `  ${s.name.padEnd(12)} rev ${String(s.revision).padEnd(8)} ${s.role.padEnd(6)} ${s.classic ? 'classic ' : ''}${formatBytes(s.size)}`,
    ),
    `images:${r.images.length === 0 ? ' none' : ''}`,
    ...r.images.map(
      (i) =>
        `  ${i.ref}  ${i.digest}${i.verified ? `\n    ${formatVerified(i.verified)}` : ''}` +
        (i.evidence ? `\n    evidence: ${i.evidence.map((e) => (e.artifactType ? `${e.kind} (${e.artifactType})` : e.kind)).join(', ')}` : ''),
    ),
    `applier:${r.appliers.length === 0 ? ' none' : ''}`,
    ...r.appliers.map((a) => `  ${a.platform.padEnd(12)} ${a.path}  ${formatBytes(a.size)}  sha256:${a.sha256}`),
    `containerd hosts dir on the node: ${r.hostsDir}`,
  ];
  return lines.join('\n');
}

/** How an images.verify result reads under its image. */
function formatVerified(v: BundleImageVerified): string {
  // by names the key or identity and, in brackets, what an identity rule opted out of (no transparency log check, no SCT check).
  return v.ok
    ? `verified: cosign signature by ${v.by ?? 'unknown'} (rule ${v.rule})`
    : `NOT verified (rule ${v.rule}, mode ${v.mode}): ${v.reason ?? 'no reason recorded'}`;
}

/** What `inspect --head` wrote. */
export function formatHead(r: WrittenHead): string {
  const bytes = r.manifest.entries.reduce((n, e) => n + e.size, 0);
  return [
    `wrote ${r.out} (${formatBytes(r.size)}): the signed head of ${r.manifest.name}, created ${r.manifest.createdAt}`,
    `  digest  sha256:${r.digest}`,
    `  lists   ${r.manifest.entries.length} files, ${formatBytes(bytes)} (not in the head)`,
    `check it on its own with \`bundler verify ${r.out} --pub KEY.pub\``,
  ].join('\n');
}
