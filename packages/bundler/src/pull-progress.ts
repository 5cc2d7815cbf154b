import { formatBytes } from '@airgap/core';
import type { PullEvent, PullListener } from './oci/pull-events.ts';

export type ProgressMode = 'tty' | 'plain' | 'json' | 'quiet';

export interface PullProgress {
  listener: PullListener;
  /** Stop redrawing and print the last state. */
  finish(): void;
}

interface ImageState {
  bytes: number;
  total: number;
  blobs: number;
  cachedBlobs: number;
}

/**
 * Pull progress for people and for CI: a redrawn block on a terminal (bytes, rate, ETA, the images
 * in flight), a line per finished image otherwise, or one JSON event per line with `--json`.
 */
export function createPullProgress(mode: ProgressMode, write: (text: string) => void, now: () => number = Date.now): PullProgress {
  const images = new Map<string, ImageState>();
  const started = now();
  let done = 0;
  let total = 0;
  let drawn = 0;
  let lastJson = 0;

  const state = (image: string) => {
    let s = images.get(image);
    if (!s) images.set(image, (s = { bytes: 0, total: 0, blobs: 0, cachedBlobs: 0 }));
    return s;
  };
  const summary = () => {
    const elapsed = Math.max((now() - started) / 1000, 0.001);
    const rate = done / elapsed;
    const eta = rate > 0 && total > done ? (total - done) / rate : 0;
    return { done, total, rate, eta };
  };
  const draw = () => {
    if (mode !== 'tty') return;
    const s = summary();
    const active = [...images.entries()].filter(([, st]) => st.bytes < st.total).slice(0, 4);
    const lines = [
      `images: ${formatBytes(s.done)} / ${formatBytes(s.total)}  ${formatBytes(s.rate)}/s  ETA ${fmtTime(s.eta)}`,
      ...active.map(([name, st]) => `  ${name}  ${formatBytes(st.bytes)} / ${formatBytes(st.total)}`),
    ];
    write(`${drawn > 0 ? `\x1b[${drawn}A` : ''}${lines.map((l) => `\x1b[2K${l}\n`).join('')}\x1b[J`);
    drawn = lines.length;
  };
  const timer = mode === 'tty' ? setInterval(draw, 200) : undefined;
  timer?.unref();

  const listener = (e: PullEvent) => {
    switch (e.type) {
      case 'image-resolved':
        state(e.image).total = e.bytes;
        total += e.bytes;
        break;
      case 'bytes':
        state(e.image).bytes += e.n;
        done += e.n;
        break;
      case 'blob-done': {
        const st = state(e.image);
        st.blobs++;
        if (e.cached) {
          st.cachedBlobs++;
          st.bytes += e.size;
          done += e.size;
        }
        break;
      }
      case 'image-done':
      case 'retry':
        break;
    }
    if (mode === 'json') {
      if (e.type !== 'bytes') write(`${JSON.stringify(e)}\n`);
      else if (now() - lastJson >= 1000) {
        lastJson = now();
        write(`${JSON.stringify({ type: 'progress', ...summary() })}\n`);
      }
    } else if (mode === 'plain' || mode === 'tty') {
      const line = plainLine(e, images);
      if (line && mode === 'plain') write(`${line}\n`);
      else if (line && e.type === 'retry') {
        write(`${drawn > 0 ? `\x1b[${drawn}A\x1b[J` : ''}${line}\n`);
        drawn = 0;
      }
    }
  };
  return {
    listener,
    finish() {
      if (timer) clearInterval(timer);
      draw();
      if (mode === 'json') write(`${JSON.stringify({ type: 'progress', ...summary() })}\n`);
    },
  };
}

function plainLine(e: PullEvent, images: Map<string, ImageState>): string | undefined {
  if (e.type === 'retry') return `retry ${e.attempt}: ${e.what}: ${e.reason}`;
  if (e.type !== 'image-done') return undefined;
  const st = images.get(e.image);
  return `pulled ${e.image} ${e.digest.slice(0, 19)}… ${formatBytes(st?.total ?? 0)}${st?.cachedBlobs ? ` (${st.cachedBlobs} blob${st.cachedBlobs === 1 ? '' : 's'} from cache)` : ''}`;
}

function fmtTime(s: number): string {
  const t = Math.round(s);
  return `${Math.floor(t / 60)}:${String(t % 60).padStart(2, '0')}`;
}
