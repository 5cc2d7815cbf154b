import { runTool } from '@airgap/core';
import { probe, QUICK, SLOW } from './exec-tool.ts';

/** Installed revision of a snap, or undefined when it is not installed. */
export async function snapRevision(name: string): Promise<number | undefined> {
  const r = await probe('snap', ['list', name]);
  if (!r.ok) return undefined;
  // Name  Version  Rev  Tracking  Publisher  Notes
  const row = r.stdout
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .find((cols) => cols[0] === name);
  const rev = Number(row?.[2]);
  return Number.isSafeInteger(rev) ? rev : undefined;
}

export async function snapVersion(): Promise<void> {
  await runTool('snap', ['version'], { timeout: QUICK });
}

export async function snapAck(assertFile: string): Promise<void> {
  await runTool('snap', ['ack', assertFile], { timeout: QUICK });
}

/** Installs a local snap whose assertions were acked; installing over an older revision refreshes it. */
export async function snapInstall(snapFile: string, o: { classic: boolean }): Promise<void> {
  await runTool('snap', ['install', snapFile, ...(o.classic ? ['--classic'] : [])], { timeout: SLOW });
}

export async function snapRestart(name: string): Promise<void> {
  await runTool('snap', ['restart', name], { timeout: SLOW });
}

/** `snap services NAME`: `NAME.service → Current` (active/inactive), from the Service/Startup/Current/Notes table. */
export async function snapServices(name: string): Promise<Map<string, string>> {
  const r = await probe('snap', ['services', name]);
  const out = new Map<string, string>();
  if (!r.ok) return out;
  for (const line of r.stdout.split('\n').slice(1)) {
    const [service, , current] = line.trim().split(/\s+/);
    if (service?.startsWith(`${name}.`) && current) out.set(service.slice(name.length + 1), current);
  }
  return out;
}
