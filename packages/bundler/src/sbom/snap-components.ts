import * as Enums from '@cyclonedx/cyclonedx-library/Enums';
import * as Models from '@cyclonedx/cyclonedx-library/Models';
import type { BundleSnap } from '@airgap/core';
import { parseAssertions, type Assertion } from '../snaps/parse-assertions.ts';
import type { SbomFiles } from './sbom-files.ts';
import { property } from './properties.ts';

/**
 * One snap: its revision as the version, the SHA3-384 its snap-revision assertion gives (as hex:
 * CycloneDX hash content is hex, snap assertions write unpadded base64url) and its publisher from
 * the snap-declaration (`publisher-id`), by display name when the `account` assertion is there.
 */
export async function snapComponent(snap: BundleSnap, files: SbomFiles): Promise<Models.Component> {
  const assertions = parseAssertions((await files.get(snap.assertPath)?.read())?.toString('utf8') ?? '') ?? [];
  const declaration = find(assertions, 'snap-declaration');
  const publisherId = declaration?.headers['publisher-id'];
  const account = assertions.find((a) => a.type === 'account' && a.headers['account-id'] === publisherId);
  const publisher = account?.headers['display-name'] ?? account?.headers.username ?? publisherId;
  const c = new Models.Component(Enums.ComponentType.Application, snap.name, {
    bomRef: `snap:${snap.name}@${snap.revision}`,
    version: String(snap.revision),
    ...(publisher ? { publisher } : {}),
  });
  c.hashes.set(Enums.HashAlgorithm['SHA3-384'], Buffer.from(snap.sha3_384, 'base64url').toString('hex'));
  for (const p of [
    property('airgap:snap:role', snap.role),
    property('airgap:snap:classic', String(snap.classic)),
    property('airgap:snap:size', String(snap.size)),
    property('airgap:snap:channel', snap.channel),
    property('airgap:snap:id', declaration?.headers['snap-id']),
    property('airgap:snap:publisher-id', publisherId),
    // The account's `validation` (`verified`, `starred`, `unproven`): "the authority's confidence in the name's validity" (canonical/snapd docs/assertions.md).
    property('airgap:snap:publisher-validation', account?.headers.validation),
    property('airgap:entry', snap.snapPath),
  ])
    if (p) c.properties.add(p);
  return c;
}

const find = (assertions: readonly Assertion[], type: string) => assertions.find((a) => a.type === type);
