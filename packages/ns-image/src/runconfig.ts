/**
 * How docker turns an image config and `run` options into the process it starts
 * (docker run reference: "ENTRYPOINT (default command to execute at runtime)", "CMD",
 * "ENV", "WORKDIR", "USER"). Pure: the runner applies the result.
 */
import { usageError } from 'ns-core/errors';
import type { ContainerConfig } from './manifest';

export interface RunOverrides {
  /** --entrypoint: replaces the image's, and clears its Cmd; '' clears the entrypoint too. */
  readonly entrypoint?: string;
  /** The command after the image: replaces the image's Cmd. */
  readonly command?: readonly string[];
  /** -e NAME=VALUE (or NAME alone, taken from the caller's environment by the CLI first). */
  readonly env?: readonly string[];
  /** -w */
  readonly workdir?: string;
  /** -u */
  readonly user?: string;
}

export interface ProcessSpec {
  readonly args: readonly string[];
  /** NAME=VALUE, the image's first, each -e replacing a NAME or adding it. */
  readonly env: readonly string[];
  readonly cwd: string;
  /** As given ('' for root): 'name', 'uid', 'uid:gid', 'name:group'. */
  readonly user: string;
}

/** docker's default PATH when the image sets none (daemon/oci_linux.go, DefaultPathEnv). */
export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function resolveProcess(config: ContainerConfig, overrides: RunOverrides = {}): ProcessSpec {
  let entrypoint: readonly string[];
  let cmd: readonly string[];
  if (overrides.entrypoint !== undefined) {
    entrypoint = overrides.entrypoint === '' ? [] : [overrides.entrypoint];
    cmd = overrides.command ?? [];
  } else {
    entrypoint = config.Entrypoint ?? [];
    cmd = overrides.command?.length ? overrides.command : config.Cmd ?? [];
  }
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) throw usageError('no command specified: the image has neither Entrypoint nor Cmd, and none was given');
  const env = mergeEnv(config.Env ?? [], overrides.env ?? []);
  if (!env.some((e) => e.startsWith('PATH='))) env.unshift(DEFAULT_PATH);
  const workdir = overrides.workdir || config.WorkingDir || '/';
  if (!workdir.startsWith('/')) throw usageError(`the working directory '${workdir}' is invalid, it needs to be an absolute path`);
  return { args, env, cwd: workdir, user: overrides.user ?? config.User ?? '' };
}

/** Later entries replace earlier ones with the same NAME, keeping the first one's place. */
export function mergeEnv(base: readonly string[], extra: readonly string[]): string[] {
  const out = new Map<string, string>();
  for (const e of [...base, ...extra]) {
    const i = e.indexOf('=');
    const name = i < 0 ? e : e.slice(0, i);
    if (name === '') throw usageError(`invalid environment variable: ${e}`);
    out.set(name, e);
  }
  return [...out.values()];
}
