import { runTool } from '@airgap/core';
import { QUICK } from './exec-tool.ts';

export async function daemonReload(): Promise<void> {
  await runTool('systemctl', ['daemon-reload'], { timeout: QUICK });
}
