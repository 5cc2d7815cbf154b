// What a CLI entry (packages/{applier,bundler}/src/cli.ts) imports at start-up: commander, the
// errors and the version, nothing more. `@airgap/core` as a whole loads undici, yaml and the
// precompiled schema validators when it is evaluated, so the entries import this file
// statically and everything else with `await import()` inside the command actions; esbuild
// turns those into lazily initialised modules of the one-file bundle (scripts/build.mjs).
export { AirgapError } from '../errors.ts';
export { createProgram, runProgram, Command, Option } from './program.ts';
export { runMain } from './run-main.ts';
export { formatBytes } from '../util/format-bytes.ts';
export { VERSION, COMMIT } from '../version.ts';
