/** ns-pid [--mount-proc[=DIR]] [--init] [--kill-child[=SIGNAL]] [--forward-signals] [--] [program [args...]] */
import { defaultProgram, exitLike, failAndExit, normalizeGetopt, programArgs, runToCompletion, yargsBase } from 'ns-core';
import { parseSignal, pid } from './index';

/** getopt_long rules: --mount-proc and --kill-child take a value only after '=' (unshare(1)). */
const GETOPT = { short: {}, optional: new Set(['mount-proc', 'kill-child']), required: new Set<string>() };

/** The last of a repeated option, as getopt_long leaves it. */
function lastOf(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[value.length - 1] : value;
}

export async function main(argv: readonly string[]): Promise<void> {
  const parsed = yargsBase('ns-pid', normalizeGetopt(argv, GETOPT))
    .usage('Usage:\n ns-pid [options] [--] [<program> [<argument>...]]\n\n'
      + 'Run a program as PID 1 of a new PID namespace.')
    .option('mount-proc', { type: 'string', describe: 'mount a new proc at DIR (default /proc) in a new mount namespace; give DIR as --mount-proc=DIR' })
    .option('init', { type: 'boolean', describe: 'run a minimal init as PID 1 that reaps orphans and forwards signals to the program' })
    .option('kill-child', { type: 'string', describe: 'the program gets SIGNAL (default SIGKILL) when ns-pid dies; give it as --kill-child=SIGNAL' })
    .option('forward-signals', { type: 'boolean', describe: 'forward SIGINT and SIGTERM to the program instead of ignoring them' })
    .parseSync();
  try {
    // A bare --mount-proc / --kill-child arrives as '' and means the default.
    const mountProc = lastOf(parsed.mountProc);
    const killChild = lastOf(parsed.killChild);
    const step = pid({
      ...(mountProc !== undefined ? { mountProc: mountProc || true } : {}),
      ...(parsed.init ? { init: true } : {}),
      ...(killChild !== undefined ? { killChild: parseSignal('--kill-child', killChild || 'SIGKILL') } : {}),
    });
    const status = await runToCompletion(defaultProgram(programArgs(parsed)), { steps: [step] },
      { signals: parsed.forwardSignals ? ['SIGINT', 'SIGTERM'] : 'ignore' });
    exitLike(status);
  } catch (e) {
    failAndExit('ns-pid', e);
  }
}
