/**
 * `ns-run inspect`: a container's state in docker's shape (docker container inspect): Id,
 * Created, Path, Args, Name, State, Image, Config, HostConfig, Mounts, NetworkSettings. Only
 * what ns-run knows is filled; docker's other keys are left out rather than faked.
 */
import { liveStatus } from './lifecycle';
import type { ContainerState } from './state';

export function inspectContainer(s: ContainerState): Record<string, unknown> {
  const status = liveStatus(s);
  const c = s.config;
  const running = status === 'running';
  const ports = Object.fromEntries(s.ports.map((p) => [`${p.containerPort}/tcp`, [{ HostIp: p.hostAddress, HostPort: String(p.hostPort) }]]));
  return {
    Id: s.id ?? '',
    Created: s.created,
    Path: s.argv[0] ?? '',
    Args: s.argv.slice(1),
    Name: `/${s.name}`,
    State: {
      Status: status, Running: running, Dead: status === 'dead',
      Pid: running ? s.init?.pid ?? 0 : 0,
      ExitCode: s.exitCode ?? 0,
      StartedAt: s.startedAt ?? '0001-01-01T00:00:00Z',
      FinishedAt: s.finishedAt ?? '0001-01-01T00:00:00Z',
    },
    Image: s.image?.id ?? '',
    Config: {
      Hostname: c?.hostname ?? s.name,
      User: c?.user ?? '',
      Env: s.env,
      Cmd: s.argv,
      Image: c?.image ?? s.rootfs ?? '',
      WorkingDir: s.workdir,
      ...(c?.exposedPorts?.length ? { ExposedPorts: Object.fromEntries(c.exposedPorts.map((p) => [p, {}])) } : {}),
    },
    HostConfig: {
      AutoRemove: s.autoRemove ?? true,
      NetworkMode: s.network,
      ReadonlyRootfs: c?.readOnly ?? false,
      Memory: c?.memory ?? null,
      PidsLimit: c?.pidsLimit ?? null,
      NanoCpus: c?.cpus !== undefined ? Math.round(Number(c.cpus) * 1e9) : 0,
      CapAdd: c?.capAdd ?? [],
      CapDrop: c?.capDrop ?? [],
      UsernsMode: c?.usernsMode ?? '',
      ...(c?.shmSize !== undefined ? { ShmSize: c.shmSize } : {}),
      Tmpfs: Object.fromEntries((c?.tmpfs ?? []).map((t) => (t.includes(':') ? [t.slice(0, t.indexOf(':')), t.slice(t.indexOf(':') + 1)] : [t, '']))),
      PortBindings: ports,
    },
    Mounts: (c?.volumes ?? []).map((v) => ({ Type: 'bind', Source: v.source, Destination: v.dest, RW: !v.readOnly })),
    NetworkSettings: {
      IPAddress: s.address ?? '',
      Gateway: s.hostAddress ?? '',
      Ports: ports,
    },
  };
}
