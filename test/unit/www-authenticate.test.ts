import { describe, expect, it } from 'vitest';
import { parseChallenges, type Challenge } from '@airgap/core';

// WWW-Authenticate values as registries send them (RFC 7235 §4.1 grammar), and the edge cases of it.
const CASES: [string, string, Challenge[]][] = [
  ['empty header', '', []],
  [
    'Docker Hub',
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io"',
    [{ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io' } }],
  ],
  [
    'ghcr.io with a scope',
    'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:user/image:pull"',
    [{ scheme: 'bearer', params: { realm: 'https://ghcr.io/token', service: 'ghcr.io', scope: 'repository:user/image:pull' } }],
  ],
  ['basic (distribution htpasswd)', 'Basic realm="Registry Realm"', [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]],
  [
    'scheme and parameter names are case-insensitive',
    'BEARER Realm="https://r/t",SERVICE="s"',
    [{ scheme: 'bearer', params: { realm: 'https://r/t', service: 's' } }],
  ],
  ['spaces around = and ,', 'Bearer realm = "https://r/t" , service = "s"', [{ scheme: 'bearer', params: { realm: 'https://r/t', service: 's' } }]],
  ['a token (unquoted) value', 'Bearer realm=https://r/t,service=s', [{ scheme: 'bearer', params: { realm: 'https://r/t', service: 's' } }]],
  ['quoted-pair escapes', 'Basic realm="a \\"quoted\\" \\\\ realm"', [{ scheme: 'basic', params: { realm: 'a "quoted" \\ realm' } }]],
  [
    'a comma inside quotes',
    'Bearer realm="https://r/t",scope="repository:a:pull,push"',
    [{ scheme: 'bearer', params: { realm: 'https://r/t', scope: 'repository:a:pull,push' } }],
  ],
  [
    'two challenges, Basic first (Artifactory, Harbor behind a proxy)',
    'Basic realm="Artifactory Realm", Bearer realm="https://r/token",service="r"',
    [
      { scheme: 'basic', params: { realm: 'Artifactory Realm' } },
      { scheme: 'bearer', params: { realm: 'https://r/token', service: 'r' } },
    ],
  ],
  ['a scheme with no parameters', 'Negotiate', [{ scheme: 'negotiate', params: {} }]],
  ['an empty quoted value', 'Bearer realm=""', [{ scheme: 'bearer', params: { realm: '' } }]],
];

describe('parseChallenges', () => {
  it.each(CASES)('%s', (_name, header, want) => {
    expect(parseChallenges(header)).toEqual(want);
  });
});
