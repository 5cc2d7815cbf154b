// Writes the README's "What was tried against it" section from dist/hardening-report.json, the
// figures the hardening tests record as they run: `pnpm test` (or `pnpm test:hardening`), then
// `node scripts/hardening-readme.mjs`. The README then shows what the suite measured, not prose.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

const report = JSON.parse(readFileSync('dist/hardening-report.json', 'utf8'));
const BEGIN = '<!-- hardening:begin (written by scripts/hardening-readme.mjs) -->';
const END = '<!-- hardening:end -->';

const pick = (o, prefix) =>
  Object.entries(o ?? {})
    .filter(([k]) => k.startsWith(prefix))
    .map(([k, v]) => `${k.slice(prefix.length)} ${v}`)
    .join(', ');
const rest = (o, skip) =>
  Object.entries(o ?? {})
    .filter(([k]) => !skip.includes(k))
    .map(([k, v]) => `${k}: ${v}`)
    .join('; ');
const need = (section) => {
  if (!report[section]) throw new Error(`dist/hardening-report.json has no "${section}": run the whole hardening suite first`);
  return report[section];
};

const t = need('tampering');
const h = need('hostileBundles');
const c = need('crashes');
const r = need('registryFaults');
const b = need('buildDiskFull');
const av = need('applyDiskFull_var');
const ae = need('applyDiskFull_etc');
const rv = need('applyDiskRefused_var');
const re = need('applyDiskRefused_etc');
const s = need('badSpecs');
const x = need('secrets');
const rows = [
  [
    'Tampering',
    `${t.mutations} seeded mutations of a real ${t.bundleBytes}-byte signed bundle (${pick(t, 'tried:')})`,
    `${t.refused} refused by \`verify\`, ${t.refusedByApply} by \`apply\` with the node tree unchanged, a sample of ${t.refusedByApplierCli} through the applier CLI (${pick(t, 'refused:')})`,
  ],
  [
    'Hostile, validly signed bundles',
    `${h.cases} cases: ${rest(h, ['cases', 'refused']).replace(/: /g, ' → ')}`,
    `${h.refused} of ${h.cases} refused, nothing written`,
  ],
  [
    'Crashes',
    `SIGKILL at ${c.stepBoundaryPoints} step boundaries and at ${c.randomMoments} seeded random moments (${c.killedMidRun} killed mid-run)`,
    'every re-run leaves the node as an uninterrupted run does; bootstrap happens exactly once; nothing is restarted on a new node (containerd first starts with the proxy drop-in in place); on a member whose proxy changed, killed around the restart step, containerd (only it) restarts exactly once over both runs',
  ],
  [
    'Registry faults',
    `${r.kinds} kinds through a fault-injecting proxy in front of a real registry: ${rest(r, ['kinds', 'recovered', 'cleanErrors'])}`,
    `${r.recovered} recovered with every digest right, ${r.cleanErrors} failed with a clear error and nothing half-written`,
  ],
  [
    'Full disk',
    `build on a ${b.tmpfsBytes}-byte tmpfs; apply with /var and /etc as small file systems of their own: too small for the bundle (${rv.refused} and ${re.refused} runs), then filled by another writer after preflight at step boundaries (${av.runs} runs on /var, ${ae.runs} on /etc)`,
    `build: exit ${b.exitCode}, ${b.filesLeft} files left; too small: refused up front with DISK_SPACE (exit 2) naming the file system, node unchanged; with the estimate free (/var ${rv.estimateKiB} KiB, ${rv.writtenKiB} KiB written; /etc ${re.estimateKiB} KiB, ${re.writtenKiB} KiB written) it converges; filled after preflight: ${av.runsOutOfSpace} runs out of space on /var (in ${av.stepsFailed}), ${ae.runsOutOfSpace} on /etc (in ${ae.stepsFailed}), each a clean ENOSPC error, no half-written file, converged on re-run`,
  ],
  [
    'Bad specs',
    `${s.files} malformed or adversarial airgap.yaml files (YAML bombs, huge files, wrong types, unknown keys, bad refs, missing files)`,
    `${s.refusedWithExit2} of ${s.files} refused with file:line:column and exit 2, under a ${s.heapLimitMiB} MiB heap and ${s.timeLimitSeconds} s`,
  ],
  [
    'Secrets',
    `${x.needles} secrets (passwords, base64 auth, the signing key's seed and PEM) searched in ${x.commandsChecked} command outputs (with --verbose errors) and ${x.filesScanned} written files (${x.bytesScanned} bytes)`,
    `${x.leaks} leaks`,
  ],
];
const section = [BEGIN, '', '| what | tried | result |', '|---|---|---|', ...rows.map((row) => `| ${row.join(' | ')} |`), '', END].join('\n');
const readme = readFileSync('README.md', 'utf8');
const start = readme.indexOf(BEGIN);
const end = readme.indexOf(END);
if (start < 0 || end < start) throw new Error(`README.md has no ${BEGIN} … ${END} block`);
writeFileSync('README.md.tmp', readme.slice(0, start) + section + readme.slice(end + END.length));
renameSync('README.md.tmp', 'README.md');
process.stdout.write('README.md: hardening figures updated\n');
