/** ns-cgroup [--cgroup-path PATH] [--memory BYTES] [--pids-max N] [--cpus CPUS] [--] [program [args...]] */
import { defaultProgram, exitLike, failAndExit, normalizeGetopt, programArgs, runToCompletion, yargsBase } from 'ns-core';
import { cgroup, type CgroupOptions } from './index';

const GETOPT = { short: {}, optional: new Set<string>(), required: new Set(['cgroup-path', 'memory', 'pids-max', 'cpus']) };

function last(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.at(-1) : value;
}

export async function main(argv: readonly string[]): Promise<void> {
  const parsed = yargsBase('ns-cgroup', normalizeGetopt(argv, GETOPT))
    .usage('Usage:\n ns-cgroup [options] [--] [<program> [<argument>...]]\n\n'
      + 'Run a program in a new cgroup namespace, optionally in a cgroup of its own with limits.\n'
      + 'A group created here is removed when the program ends (anything it left inside is killed);\n'
      + 'an existing group is joined and kept. Relative paths are under your own cgroup.')
    .option('cgroup-path', { type: 'string', requiresArg: true, describe: 'join or create this cgroup first; the program sees it as /' })
    .option('memory', { type: 'string', requiresArg: true, describe: 'memory limit: bytes, or with K/M/G/T suffix, or max' })
    .option('pids-max', { type: 'string', requiresArg: true, describe: 'most processes and threads in the group, or max' })
    .option('cpus', { type: 'string', requiresArg: true, describe: 'CPU bandwidth in CPUs, e.g. 0.5 (per 100 ms period)' })
    .parseSync();
  try {
    const str = (key: string) => last(parsed[key] as string | string[] | undefined);
    const options: CgroupOptions = {
      ...(str('cgroupPath') !== undefined ? { path: str('cgroupPath')! } : {}),
      ...(str('memory') !== undefined ? { memory: str('memory')! } : {}),
      ...(str('pidsMax') !== undefined ? { pidsMax: str('pidsMax')! } : {}),
      ...(str('cpus') !== undefined ? { cpus: str('cpus')! } : {}),
    };
    exitLike(await runToCompletion(defaultProgram(programArgs(parsed)), { steps: [cgroup(options)] }));
  } catch (e) {
    failAndExit('ns-cgroup', e);
  }
}
