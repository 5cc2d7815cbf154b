import { formatBytes } from '@airgap/core';
import type { PushEvent, PushListener } from './push-events.ts';

const short = (digest: string) => `${digest.slice(0, 19)}…`;

/** `tty`: a redrawn block plus the lines worth keeping; `plain`: a line per event worth reading; `json`: one event per line. */
export type PushOutputMode = 'tty' | 'plain' | 'json';

export interface PushProgress {
  listener: PushListener;
  /** Stop redrawing; the block stays with its last state. */
  finish(): void;
}

/** One plain line per event worth reading (uploads, mounts, images, retries, refusals), or undefined. */
export function plainLine(e: PushEvent): string | undefined {
  switch (e.type) {
    case 'image-start':
      return `push ${e.image} → ${e.target} (${e.blobs} blob${e.blobs === 1 ? '' : 's'}, ${formatBytes(e.bytes)})`;
    case 'blob':
      if (e.action === 'uploaded') return `  uploaded ${short(e.digest)} ${formatBytes(e.size)}`;
      if (e.action === 'mounted') return `  mounted  ${short(e.digest)} ${formatBytes(e.size)} from ${e.from ?? '?'}`;
      return undefined;
    case 'index-refused':
      return `  warning: the registry refused the index ${short(e.index)} (it lists ${[...new Set(e.absent)].join(', ')}, which the bundle does not carry); the tag points at the bundle's subset index ${short(e.subset)} (${e.platforms.join(', ')}) instead, so every carried platform pulls by tag and pulls by the index digest do not`;
    case 'digest-unheld':
      return `  warning: the registry cannot hold ${e.image} (its index lists ${e.absent.join(', ')}, which the bundle does not carry): ${e.hint}`;
    case 'image-failed':
      return `  error: ${e.message}${e.hint ? ` (${e.hint})` : ''}`;
    case 'image-done':
      return `  done ${e.target} ${short(e.digest)}`;
    case 'retry':
      return `  retry ${e.attempt}: ${e.what}: ${e.reason}`;
    case 'done':
      return summaryLines(e).join('\n');
    case 'manifest':
    case 'bytes':
      return undefined;
  }
}

function summaryLines(e: Extract<PushEvent, { type: 'done' }>): string[] {
  return [
    `pushed ${e.images} image(s) to ${e.registry} in ${e.seconds.toFixed(1)} s: sent ${formatBytes(e.bytesUploaded)}, skipped ${formatBytes(e.bytesSkipped)} (already there or mounted); ${e.blobsUploaded} blob(s) uploaded (${formatBytes(e.bytesUploaded)}), ${e.blobsMounted} mounted, ${e.blobsPresent} already there; ${e.manifestsPushed} manifest(s) pushed, ${e.manifestsPresent} already there`,
    ...(e.evidence
      ? [
          `  evidence: ${e.evidence.pushed} signature/attestation/SBOM manifest(s) pushed, ${e.evidence.present} already there` +
            (e.evidence.referrersTags.some((t) => t.action !== 'present')
              ? `; ${e.evidence.referrersTags.filter((t) => t.action !== 'present').length} referrers tag(s) written (the registry has no referrers API)`
              : ''),
        ]
      : []),
    ...e.subsets.map((x) => `  subset: ${x.image} → subset index ${short(x.subset)} (the registry refused the index ${short(x.index)})`),
    ...e.unheld.map((x) => `  not held: ${x.image}: ${x.hint}`),
    ...e.failed.map((x) => `  failed: ${x.message}`),
  ];
}

/**
 * Push output for people and for CI, in the bundler's pull-progress style: on a terminal a block
 * redrawn every 200 ms (bytes done of the total, rate, ETA, the image in flight) with warnings,
 * retries and the summary printed above it; else plain lines; or one JSON event per line.
 */
export function createPushProgress(o: {
  mode: PushOutputMode;
  write: (text: string) => void;
  images: number;
  bytes: number;
  now?: () => number;
}): PushProgress {
  const now = o.now ?? Date.now;
  const started = now();
  let done = 0;
  let sent = 0;
  let images = 0;
  let drawn = 0;
  const current = { image: '', bytes: 0, done: 0 };
  const block = () => {
    const elapsed = Math.max((now() - started) / 1000, 0.001);
    const rate = sent / elapsed;
    const eta = rate > 0 && o.bytes > done ? (o.bytes - done) / rate : 0;
    return [
      `push: ${images}/${o.images} images  ${formatBytes(done)} / ${formatBytes(o.bytes)}  sent ${formatBytes(sent)}  ${formatBytes(rate)}/s  ETA ${fmtTime(eta)}`,
      ...(current.image && images < o.images ? [`  ${current.image}  ${formatBytes(current.done)} / ${formatBytes(current.bytes)}`] : []),
    ];
  };
  const erase = () => (drawn > 0 ? `\x1b[${drawn}A\x1b[J` : '');
  const draw = (above = '') => {
    const lines = block();
    o.write(`${erase()}${above}${lines.map((l) => `\x1b[2K${l}\n`).join('')}\x1b[J`);
    drawn = lines.length;
  };
  const timer = o.mode === 'tty' ? setInterval(() => draw(), 200) : undefined;
  timer?.unref();

  const listener: PushListener = (e) => {
    switch (e.type) {
      case 'image-start':
        Object.assign(current, { image: e.image, bytes: e.bytes, done: 0 });
        break;
      case 'bytes':
        sent += e.n;
        if (current.done + e.n <= current.bytes) {
          current.done += e.n;
          done += e.n;
        }
        break;
      case 'blob':
        if (e.action !== 'uploaded') {
          current.done += e.size;
          done += e.size;
        }
        break;
      case 'image-done':
      case 'image-failed':
      case 'digest-unheld':
        done += Math.max(current.bytes - current.done, 0);
        current.done = current.bytes;
        images++;
        break;
      default:
        break;
    }
    if (o.mode === 'json') {
      if (e.type !== 'bytes') o.write(`${JSON.stringify(e)}\n`);
      return;
    }
    const line = plainLine(e);
    if (line === undefined) return;
    if (o.mode === 'plain') o.write(`${line}\n`);
    else if (e.type === 'retry' || e.type === 'index-refused' || e.type === 'digest-unheld' || e.type === 'image-failed' || e.type === 'done')
      draw(`${line}\n`);
  };
  return {
    listener,
    finish() {
      if (timer) clearInterval(timer);
      if (o.mode === 'tty') draw();
    },
  };
}

/** Plain lines for people and logs, or one JSON event per line with `--json` (no redrawing). */
export function pushPrinter(json: boolean, write: (line: string) => void): PushListener {
  return createPushProgress({ mode: json ? 'json' : 'plain', write: (t) => write(t.replace(/\n$/, '')), images: 0, bytes: 0 }).listener;
}

function fmtTime(s: number): string {
  const t = Math.round(s);
  return `${Math.floor(t / 60)}:${String(t % 60).padStart(2, '0')}`;
}
