import { formatBytes } from '@airgap/core';
import type { PushEvent, PushListener } from './push-events.ts';

const short = (digest: string) => `${digest.slice(0, 19)}…`;

/** One plain line per event worth reading (uploads, mounts, images, retries), or undefined. */
export function plainLine(e: PushEvent): string | undefined {
  switch (e.type) {
    case 'image-start':
      return `push ${e.image} → ${e.target} (${e.blobs} blob${e.blobs === 1 ? '' : 's'}, ${formatBytes(e.bytes)})`;
    case 'blob':
      if (e.action === 'uploaded') return `  uploaded ${short(e.digest)} ${formatBytes(e.size)}`;
      if (e.action === 'mounted') return `  mounted  ${short(e.digest)} ${formatBytes(e.size)} from ${e.from ?? '?'}`;
      return undefined;
    case 'index-refused':
      return `  warning: the registry refused the index ${short(e.index)} (it lists ${e.absent.join(', ')}, which the bundle does not carry); the tag points at the ${e.platform} manifest ${short(e.manifest)} instead, so pulls by the index digest will not find it`;
    case 'image-done':
      return `  done ${e.target} ${short(e.digest)}`;
    case 'retry':
      return `  retry ${e.attempt}: ${e.what}: ${e.reason}`;
    case 'done':
      return `pushed ${e.images} image(s) to ${e.registry} in ${e.seconds.toFixed(1)} s: ${e.blobsUploaded} blob(s) uploaded (${formatBytes(e.bytesUploaded)}), ${e.blobsMounted} mounted, ${e.blobsPresent} already there; ${e.manifestsPushed} manifest(s) pushed, ${e.manifestsPresent} already there`;
    case 'manifest':
      return undefined;
  }
}

/** Plain lines for people and logs, or one JSON event per line with `--json`. */
export function pushPrinter(json: boolean, write: (line: string) => void): PushListener {
  return (e) => {
    const line = json ? JSON.stringify(e) : plainLine(e);
    if (line !== undefined) write(line);
  };
}
