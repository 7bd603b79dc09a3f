/** `nft` as the oracle, and programs run inside throwaway namespaces, for the nf_tables tests. */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { NftHandle } from '../src/nft';
import { throwaway, type Throwaway } from './helpers';

export interface NftThrowaway extends Throwaway {
  readonly nft: NftHandle;
  /** `nft ARGS` inside (the oracle), stdout. */
  nftCli(...args: string[]): string;
  /** `nft -j ARGS` inside: the objects of the "nftables" array, without the metainfo. */
  nftJson(...args: string[]): Record<string, Record<string, unknown>>[];
  /** `nft -f -` inside, the script on stdin. */
  nftScript(script: string): void;
}

export async function nftThrowaway(): Promise<NftThrowaway> {
  const t = await throwaway();
  const nft = NftHandle.at(t.ns);
  const pid = String(t.child.pid);
  const nftCli = (...args: string[]) => execFileSync('nsenter', ['-t', pid, '-n', 'nft', ...args], { encoding: 'utf8' });
  return {
    ...t, nft, nftCli,
    nftJson: (...args) => (JSON.parse(nftCli('-j', ...args)) as { nftables: Record<string, Record<string, unknown>>[] }).nftables.filter((o) => !('metainfo' in o)),
    nftScript: (script) => { execFileSync('nsenter', ['-t', pid, '-n', 'nft', '-f', '-'], { input: script }); },
    async close() {
      nft.close();
      await t.close();
    },
  };
}

/** The rule lines of `nft list table` output, trimmed (no chain headers, no braces). */
export function ruleLines(listing: string): string[] {
  return listing.split('\n').map((l) => l.trim())
    .filter((l) => l && !/^(table|chain) /.test(l) && l !== '}' && !l.startsWith('type '));
}

/** Runs `node -e script` inside t's network namespace; resolves with stdout (rejects on failure). */
export function nodeIn(t: Throwaway, script: string, timeoutMs = 10000): string {
  const r = spawnSync('nsenter', ['-t', String(t.child.pid), '-n', process.execPath, '-e', script], { encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`node in netns: status ${r.status} ${r.signal ?? ''}: ${r.stderr}`);
  return r.stdout;
}

/**
 * A TCP server inside t's namespace on `port` that answers each connection with the
 * address it came from, then closes it. Resolves once it listens.
 */
export async function peerEchoServer(t: Throwaway, port: number, host = '::'): Promise<ChildProcess> {
  const script = `const s = require('net').createServer((c) => c.end(c.remoteAddress.replace(/^::ffff:/, '')));
s.listen({ port: ${port}, host: ${JSON.stringify(host)}, ipv6Only: false }, () => console.log('ready'));`;
  const child = spawn('nsenter', ['-t', String(t.child.pid), '-n', process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [chunk] = await once(child.stdout!, 'data') as [Buffer];
  if (!chunk.toString().includes('ready')) throw new Error(`server in netns did not start: ${chunk}`);
  return child;
}

export async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGKILL');
  await once(child, 'exit');
}

/**
 * From inside t's namespace: connect to host:port and return what the server said, or
 * `error: CODE` if the connection failed or gave no answer within timeoutMs.
 */
export function connectFrom(t: Throwaway, host: string, port: number, timeoutMs = 2500): string {
  const script = `const c = require('net').connect({ host: ${JSON.stringify(host)}, port: ${port} });
let out = '';
const timer = setTimeout(() => { console.log('error: ETIMEDOUT'); process.exit(0); }, ${timeoutMs});
c.on('data', (d) => { out += d; });
c.on('end', () => { clearTimeout(timer); console.log(out); });
c.on('error', (e) => { clearTimeout(timer); console.log('error: ' + e.code); });`;
  return nodeIn(t, script, timeoutMs + 5000).trim();
}
