/**
 * Platforms as OCI image indexes name them, the host's, and the choice among an index's
 * manifests that containerd's default matcher (which docker uses) would make.
 */
import { endianness } from 'node:os';
import { imageError } from './errors';

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

/** GOARCH names for Node's process.arch (the image-spec's architecture values are GOARCH's). */
const GOARCH: Record<string, string> = {
  x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', s390x: 's390x', riscv64: 'riscv64',
  loong64: 'loong64', mips: 'mips', mipsel: 'mipsle', mips64el: 'mips64le',
};

/** The platform of this process: linux/amd64, linux/arm64/v8, linux/arm/v7, ... */
export function hostPlatform(arch: string = process.arch): Platform {
  const architecture = arch === 'ppc64' ? (endianness() === 'LE' ? 'ppc64le' : 'ppc64') : GOARCH[arch] ?? arch;
  if (architecture === 'arm64') return { os: 'linux', architecture, variant: 'v8' };
  if (architecture === 'arm') {
    const v = (process.config.variables as { arm_version?: string }).arm_version;
    return { os: 'linux', architecture, variant: `v${v ?? '7'}` };
  }
  return { os: 'linux', architecture };
}

/** 'linux/arm64/v8' -> { os, architecture, variant }; as `docker pull --platform`. */
export function parsePlatform(text: string): Platform {
  const parts = text.toLowerCase().split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/.test(p))) {
    throw imageError('EIMAGE', `invalid platform ${JSON.stringify(text)}: expected os/arch[/variant]`);
  }
  const [os, architecture, variant] = parts as [string, string, string?];
  return variant ? { os, architecture: normalizeArch(architecture), variant } : { os, architecture: normalizeArch(architecture) };
}

function normalizeArch(a: string): string {
  return ({ x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', i386: '386' } as Record<string, string>)[a] ?? a;
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/**
 * How well a manifest's platform suits the wanted one: 0 not at all, higher is better.
 * arm64 treats a missing variant as v8; 32-bit arm accepts older variants (v7 runs v6 and v5)
 * and prefers the newest it can run, as containerd's matcher does.
 */
export function platformScore(want: Platform, have: Platform | undefined): number {
  if (!have || have.os !== want.os || have.architecture !== want.architecture) return 0;
  const norm = (v: string | undefined) => (want.architecture === 'arm64' && (v === undefined || v === '') ? 'v8' : v ?? '');
  const w = norm(want.variant);
  const h = norm(have.variant);
  if (w === '' || w === h) return 100;
  if (want.architecture === 'arm' && /^v\d$/.test(w) && /^v\d$/.test(h) && Number(h[1]) < Number(w[1])) return 10 + Number(h[1]);
  if (h === '') return 5;
  return 0;
}
