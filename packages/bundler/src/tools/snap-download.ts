import { runTool } from '@airgap/core';

export interface SnapDownloadOptions {
  name: string;
  channel?: string;
  revision?: number;
  /** Folder to download into; `snap download` writes BASENAME.snap and BASENAME.assert there. */
  dir: string;
  basename: string;
}

export async function snapDownload(o: SnapDownloadOptions): Promise<void> {
  // Options before the snap name, as `snap download --help` documents them.
  const args = ['download'];
  if (o.revision !== undefined) args.push(`--revision=${o.revision}`);
  else if (o.channel) args.push(`--channel=${o.channel}`);
  args.push(`--basename=${o.basename}`, `--target-directory=${o.dir}`, o.name);
  await runTool('snap', args, { timeout: 30 * 60_000 });
}
