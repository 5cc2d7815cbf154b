import { describe, expect, it } from 'vitest';
import { renderEnvironment } from '../../packages/applier/src/steps/proxy-env.ts';

const P: [string, string][] = [
  ['HTTPS_PROXY', 'http://p:3128'],
  ['NO_PROXY', '10.0.0.0/8'],
];

// /etc/environment as pam_env reads it: our keys replaced in place, every other line kept as it was.
const CASES: [string, { current: string; vars: [string, string][]; owned: string[] }, string][] = [
  ['an empty file gets the variables', { current: '', vars: P, owned: [] }, 'HTTPS_PROXY="http://p:3128"\nNO_PROXY="10.0.0.0/8"\n'],
  [
    'other lines kept byte for byte, ours appended',
    { current: 'PATH="/usr/bin"\n# a comment\n\nLANG=C', vars: P, owned: [] },
    'PATH="/usr/bin"\n# a comment\n\nLANG=C\nHTTPS_PROXY="http://p:3128"\nNO_PROXY="10.0.0.0/8"\n',
  ],
  [
    'a key set before is replaced where it stands',
    { current: 'A=1\nHTTPS_PROXY=old\nB=2\n', vars: P, owned: [] },
    'A=1\nHTTPS_PROXY="http://p:3128"\nB=2\nNO_PROXY="10.0.0.0/8"\n',
  ],
  ['an `export` line counts as the key', { current: 'export HTTPS_PROXY=old\n', vars: P, owned: [] }, 'HTTPS_PROXY="http://p:3128"\nNO_PROXY="10.0.0.0/8"\n'],
  ['indented keys count too', { current: '  NO_PROXY=x\n', vars: P, owned: [] }, 'NO_PROXY="10.0.0.0/8"\nHTTPS_PROXY="http://p:3128"\n'],
  [
    'a duplicate line of ours is dropped',
    { current: 'HTTPS_PROXY=a\nHTTPS_PROXY=b\n', vars: P, owned: [] },
    'HTTPS_PROXY="http://p:3128"\nNO_PROXY="10.0.0.0/8"\n',
  ],
  [
    'a key we owned and no longer set is removed',
    { current: 'A=1\nHTTP_PROXY="http://old"\n', vars: P, owned: ['HTTP_PROXY'] },
    'A=1\nHTTPS_PROXY="http://p:3128"\nNO_PROXY="10.0.0.0/8"\n',
  ],
  [
    'a key we never owned stays',
    { current: 'HTTP_PROXY="http://theirs"\n', vars: P, owned: [] },
    'HTTP_PROXY="http://theirs"\nHTTPS_PROXY="http://p:3128"\nNO_PROXY="10.0.0.0/8"\n',
  ],
  ['no variables and only owned lines: an empty file', { current: 'HTTPS_PROXY=x\n', vars: [], owned: ['HTTPS_PROXY'] }, ''],
  [
    'a prefix of a key is another key',
    { current: 'HTTPS_PROXY_X=1\n', vars: P, owned: ['HTTPS_PROXY'] },
    'HTTPS_PROXY_X=1\nHTTPS_PROXY="http://p:3128"\nNO_PROXY="10.0.0.0/8"\n',
  ],
  [
    'a line that is not an assignment stays',
    { current: 'HTTPS_PROXY\n', vars: P, owned: ['HTTPS_PROXY'] },
    'HTTPS_PROXY\nHTTPS_PROXY="http://p:3128"\nNO_PROXY="10.0.0.0/8"\n',
  ],
  [
    'rendering twice changes nothing',
    { current: 'A=1\nHTTPS_PROXY="http://p:3128"\nNO_PROXY="10.0.0.0/8"\n', vars: P, owned: ['HTTPS_PROXY', 'NO_PROXY'] },
    'A=1\nHTTPS_PROXY="http://p:3128"\nNO_PROXY="10.0.0.0/8"\n',
  ],
];

describe('renderEnvironment', () => {
  it.each(CASES)('%s', (_name, { current, vars, owned }, want) => {
    expect(renderEnvironment(current, vars, owned)).toBe(want);
  });
});
