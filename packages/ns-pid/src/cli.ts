/** ns-pid [--mount-proc[=DIR]] [--init] [--kill-child[=SIGNAL]] [--forward-signals] [--] [program [args...]] */
import { defaultProgram, exitLike, failAndExit, programArgs, runToCompletion, yargsBase } from 'ns-core';
import { parseSignal, pid } from './index';

/** Options whose value is optional and, as with getopt_long, only ever given after '='. */
const OPTIONAL_VALUE_DEFAULTS: Readonly<Record<string, string>> = { '--mount-proc': '/proc', '--kill-child': 'SIGKILL' };

/**
 * yargs would take the word after a bare `--mount-proc` as its value, where util-linux takes
 * it as the program; so a bare flag before the program becomes `--flag=default`.
 */
function withOptionalValues(argv: readonly string[]): string[] {
  const out = [...argv];
  for (let i = 0; i < out.length; i++) {
    const arg = out[i]!;
    if (arg === '--' || !arg.startsWith('-')) break;
    const fallback = OPTIONAL_VALUE_DEFAULTS[arg];
    if (fallback !== undefined) out[i] = `${arg}=${fallback}`;
  }
  return out;
}

/** The last of a repeated option, as getopt_long leaves it. */
function lastOf(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[value.length - 1] : value;
}

export async function main(argv: readonly string[]): Promise<void> {
  const parsed = yargsBase('ns-pid', withOptionalValues(argv))
    .usage('Usage:\n ns-pid [options] [--] [<program> [<argument>...]]\n\n'
      + 'Run a program as PID 1 of a new PID namespace.')
    .option('mount-proc', { type: 'string', describe: 'mount a new proc at DIR (default /proc) in a new mount namespace; give DIR as --mount-proc=DIR' })
    .option('init', { type: 'boolean', describe: 'run a minimal init as PID 1 that reaps orphans and forwards signals to the program' })
    .option('kill-child', { type: 'string', describe: 'the program gets SIGNAL (default SIGKILL) when ns-pid dies; give it as --kill-child=SIGNAL' })
    .option('forward-signals', { type: 'boolean', describe: 'forward SIGINT and SIGTERM to the program instead of ignoring them' })
    .parseSync();
  try {
    const mountProc = lastOf(parsed.mountProc);
    const killChild = lastOf(parsed.killChild);
    const step = pid({
      ...(mountProc !== undefined ? { mountProc } : {}),
      ...(parsed.init ? { init: true } : {}),
      ...(killChild !== undefined ? { killChild: parseSignal('--kill-child', killChild) } : {}),
    });
    const status = await runToCompletion(defaultProgram(programArgs(parsed)), { steps: [step] },
      { signals: parsed.forwardSignals ? 'forward' : 'ignore' });
    exitLike(status);
  } catch (e) {
    failAndExit('ns-pid', e);
  }
}
