/** ns-cgroup [--cgroup-path PATH] [--memory BYTES] [--pids-max N] [--cpus CPUS] [--] [program [args...]] */
import { kindCommand } from 'ns-core';
import { launch, runCli, scriptArguments, STANDARD_OPTIONS, type CommandSpec } from 'ns-core/cli';
import { supervisedCgroup, type CgroupOptions } from './index';

export const CGROUP_COMMAND: CommandSpec = {
  ...kindCommand('cgroup', ['cgroups(7)']),
  summary: 'Run a program in a new cgroup namespace, optionally in a cgroup of its own with limits.\n'
    + 'A group created here is removed when the program ends (anything it left inside is killed);\n'
    + 'an existing group is joined and kept. Relative paths are under your own cgroup.',
  options: [
    { long: 'cgroup-path', arg: 'required', metavar: '<path>', help: 'join or create this cgroup first; the program sees it as /' },
    { long: 'memory', arg: 'required', metavar: '<bytes>', help: 'memory limit: bytes, or with K/M/G/T suffix, or max' },
    { long: 'pids-max', arg: 'required', metavar: '<n>', help: 'most processes and threads in the group, or max' },
    { long: 'cpus', arg: 'required', metavar: '<cpus>', help: 'CPU bandwidth in CPUs, e.g. 0.5 (per 100 ms period)' },
    ...STANDARD_OPTIONS,
  ],
};

export function main(argv: readonly string[] = scriptArguments()): Promise<void> {
  return runCli(CGROUP_COMMAND, argv, async (args) => {
    const value = (name: string) => args.last(name);
    const options: CgroupOptions = {
      ...(value('cgroup-path') !== undefined ? { path: value('cgroup-path')! } : {}),
      ...(value('memory') !== undefined ? { memory: value('memory')! } : {}),
      ...(value('pids-max') !== undefined ? { pidsMax: value('pids-max')! } : {}),
      ...(value('cpus') !== undefined ? { cpus: value('cpus')! } : {}),
    };
    // A group made for the program is removed by a supervisor (a few KiB of C) once it is gone.
    const { step, cleanup } = supervisedCgroup(options);
    await launch(args.operands, { steps: [step], ...(cleanup.length ? { supervise: { cleanup } } : {}) }, { signals: 'program' });
  });
}
