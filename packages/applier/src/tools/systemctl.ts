import { runTool } from '@airgap/core';
import { probe, QUICK, SLOW } from './exec-tool.ts';

export async function daemonReload(): Promise<void> {
  await runTool('systemctl', ['daemon-reload'], { timeout: QUICK });
}

/** `systemctl is-active UNIT` exits 0 only for an active unit (3 for inactive, 4 for unknown). */
export async function unitActive(unit: string): Promise<boolean> {
  return (await probe('systemctl', ['is-active', unit])).ok;
}

export async function restartUnit(unit: string): Promise<void> {
  await runTool('systemctl', ['restart', unit], { timeout: SLOW });
}
