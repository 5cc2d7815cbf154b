import { AirgapError, exitCodeFor } from '../errors.ts';

/**
 * The only place that prints errors and sets exit codes. User errors print code, message and
 * hint; a stack trace only with --verbose or for programmer bugs.
 */
export async function runMain(main: (argv: string[]) => Promise<number | void>, argv = process.argv.slice(2)): Promise<void> {
  const verbose = argv.includes('--verbose');
  try {
    const code = await main(argv);
    process.exitCode = code ?? 0;
  } catch (err) {
    if (err instanceof AirgapError) {
      process.stderr.write(`error[${err.code}]: ${err.message}\n`);
      if (err.hint) process.stderr.write(`hint: ${err.hint}\n`);
      if (verbose && err.stack) process.stderr.write(`${err.stack}\n`);
      process.exitCode = exitCodeFor(err);
    } else {
      process.stderr.write(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 70;
    }
  }
}
