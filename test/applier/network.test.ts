import { readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { makeBundle } from '../support/bundle-fixture.ts';
import { hashTree, makeNode } from './node-env.ts';

describe('default route (real ip in a network namespace)', () => {
  test('adds `default dev IFACE` when there is none, persists it with an enabled unit, and is idempotent', async () => {
    const node = await makeNode({ defaultRoute: false });
    expect(await node.netns.ip(['-4', 'route', 'show', 'default'])).toBe('');
    const b = await makeBundle({ dir: node.work, snaps: [], defaultRouteInterface: node.netns.iface });
    const r = await node.applier(['apply', b.file, '--pub', b.pubFile]);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`add-route default dev ${node.netns.iface} (the node has no default route)`);
    expect(await node.netns.ip(['-4', 'route', 'show', 'default'])).toMatch(new RegExp(`^default dev ${node.netns.iface}`));
    const unit = path.join(node.root, 'etc/systemd/system/airgap-default-route.service');
    expect(await readFile(unit, 'utf8')).toContain(`ip -4 route add default dev ${node.netns.iface}`);
    expect(await readlink(path.join(node.root, 'etc/systemd/system/multi-user.target.wants/airgap-default-route.service'))).toBe(
      '/etc/systemd/system/airgap-default-route.service',
    );
    expect(await node.calls()).toContain('systemctl daemon-reload');

    const before = await hashTree(node.root);
    const again = await node.applier(['apply', b.file, '--pub', b.pubFile]);
    expect(again.stdout).toMatch(/^ok +default-route/m);
    expect(await hashTree(node.root)).toEqual(before);
  });

  test('an existing default route is left alone (only the unit is installed)', async () => {
    const node = await makeNode({ defaultRoute: true });
    const routes = await node.netns.ip(['-4', 'route', 'show', 'default']);
    const b = await makeBundle({ dir: node.work, snaps: [], defaultRouteInterface: node.netns.iface });
    const r = await node.applier(['apply', b.file, '--pub', b.pubFile]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toContain('add-route');
    expect(await node.netns.ip(['-4', 'route', 'show', 'default'])).toBe(routes);
  });

  test('a hostile interface name is refused (exit 2), no route added', async () => {
    const node = await makeNode({ defaultRoute: false });
    const b = await makeBundle({ dir: node.work, snaps: [], defaultRouteInterface: 'eth0; rm -rf /' });
    const r = await node.applier(['apply', b.file, '--pub', b.pubFile]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('error[BUNDLE_INVALID]');
    expect(await node.netns.ip(['-4', 'route', 'show', 'default'])).toBe('');
    expect(await hashTree(node.root)).toEqual({});
  });
});
