import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { Where } from '../src/errors';
import { formatBytes, hostPlatform, parsePlatform, ProgressRenderer, resolveProcess, type ProgressEvent } from '../src/index';
import { parseConfig, parseManifest, selectPlatform, type Descriptor } from '../src/manifest';
import { parseChallenges, isLoopback } from '../src/registry';

describe('progress rendering', () => {
  const ev = (layer: string, phase: ProgressEvent['phase'], bytes: number, total?: number): ProgressEvent => ({ kind: 'layer', layer, phase, bytes, ...(total !== undefined ? { total } : {}) });

  it('prints one line per finished layer when not on a terminal', () => {
    let t = 0;
    const r = new ProgressRenderer({ tty: false, now: () => t });
    expect(r.update(ev('aaaaaaaaaaaa', 'start', 0, 50_000_000))).to.equal('');
    t = 500;
    expect(r.update(ev('aaaaaaaaaaaa', 'bytes', 25_000_000, 50_000_000))).to.equal('');
    expect(r.update(ev('bbbbbbbbbbbb', 'exists', 0))).to.equal('bbbbbbbbbbbb: Already exists\n');
    t = 1000;
    expect(r.update(ev('aaaaaaaaaaaa', 'done', 50_000_000, 50_000_000))).to.equal('aaaaaaaaaaaa: Done 50MB in 1.0s\n');
    expect(r.finish()).to.equal('');
  });

  it('rewrites every layer line in place on a terminal, at most every interval', () => {
    let t = 0;
    const r = new ProgressRenderer({ tty: true, now: () => t, intervalMs: 100 });
    expect(r.update(ev('a', 'start', 0, 2_000_000))).to.equal('\x1b[2Ka: Waiting 0B/2MB\n');
    t = 50;
    expect(r.update(ev('a', 'bytes', 1000, 2_000_000))).to.equal('\x1b[2Ka: Receiving 1kB/2MB 20kB/s\n'.replace(/^/, '\x1b[1A'));
    t = 60;
    expect(r.update(ev('a', 'bytes', 2000, 2_000_000)), 'throttled').to.equal('');
    expect(r.update(ev('b', 'exists', 0))).to.equal('\x1b[1A\x1b[2Ka: Receiving 2kB/2MB 33.3kB/s\n\x1b[2Kb: Already exists\n');
    t = 1000;
    expect(r.update(ev('a', 'done', 2_000_000, 2_000_000))).to.equal('\x1b[2A\x1b[2Ka: Done 2MB in 1.0s\n\x1b[2Kb: Already exists\n');
  });

  it('prints nothing when quiet', () => {
    const r = new ProgressRenderer({ tty: true, quiet: true });
    expect(r.update(ev('a', 'done', 1))).to.equal('');
    expect(r.finish()).to.equal('');
  });

  it('formats sizes as docker does', () => {
    expect([0, 999, 1000, 1234, 1_980_000, 50_000_000, 1.5e9].map(formatBytes)).to.deep.equal(['0B', '999B', '1kB', '1.23kB', '1.98MB', '50MB', '1.5GB']);
  });
});

describe('the process an image runs', () => {
  const config = { Entrypoint: ['/entry'], Cmd: ['default'], Env: ['A=1', 'PATH=/x'], WorkingDir: '/w', User: 'u' };
  it('is Entrypoint + Cmd, Env, WorkingDir and User from the image', () => {
    expect(resolveProcess(config)).to.deep.equal({ args: ['/entry', 'default'], env: ['A=1', 'PATH=/x'], cwd: '/w', user: 'u' });
  });
  it('takes the command, -e, -w, -u over the image', () => {
    expect(resolveProcess(config, { command: ['x', 'y'], env: ['A=2', 'B=3'], workdir: '/o', user: '0:0' }))
      .to.deep.equal({ args: ['/entry', 'x', 'y'], env: ['A=2', 'PATH=/x', 'B=3'], cwd: '/o', user: '0:0' });
  });
  it('--entrypoint clears the image Cmd; an empty one clears the entrypoint', () => {
    expect(resolveProcess(config, { entrypoint: '/other' }).args).to.deep.equal(['/other']);
    expect(resolveProcess(config, { entrypoint: '', command: ['sh'] }).args).to.deep.equal(['sh']);
  });
  it('adds docker\'s default PATH, defaults to / and refuses no command at all', () => {
    expect(resolveProcess({ Cmd: ['sh'] })).to.deep.equal({ args: ['sh'], env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], cwd: '/', user: '' });
    expect(() => resolveProcess({})).to.throw(/no command specified/).with.property('code', 'EUSAGE');
    expect(() => resolveProcess({ Cmd: ['sh'] }, { workdir: 'rel' })).to.throw(/needs to be an absolute path/);
  });
});

describe('platforms and manifests', () => {
  const w = new Where(['test']);
  const d = (architecture: string, variant?: string): Descriptor => ({
    mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${architecture.padEnd(8, 'x').repeat(8).replace(/[^a-f0-9]/g, '0').slice(0, 64)}`, size: 1,
    platform: { os: 'linux', architecture, ...(variant ? { variant } : {}) },
  });

  it('maps Node\'s arch to the image-spec\'s', () => {
    expect(hostPlatform('x64')).to.deep.equal({ os: 'linux', architecture: 'amd64' });
    expect(hostPlatform('arm64')).to.deep.equal({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(hostPlatform('ia32').architecture).to.equal('386');
    expect(parsePlatform('linux/arm64/v8')).to.deep.equal({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(parsePlatform('linux/x86_64')).to.deep.equal({ os: 'linux', architecture: 'amd64' });
    expect(() => parsePlatform('linux')).to.throw(/expected os\/arch/);
  });

  it('chooses the manifest of the wanted platform as containerd does', () => {
    const list = [d('arm', 'v6'), d('arm', 'v7'), d('arm64'), d('amd64')];
    expect(selectPlatform(list, { os: 'linux', architecture: 'amd64' }, w)).to.equal(list[3]);
    expect(selectPlatform(list, { os: 'linux', architecture: 'arm64', variant: 'v8' }, w)).to.equal(list[2]);
    expect(selectPlatform(list, { os: 'linux', architecture: 'arm', variant: 'v7' }, w)).to.equal(list[1]);
    expect(selectPlatform([list[0]!], { os: 'linux', architecture: 'arm', variant: 'v7' }, w)).to.equal(list[0]);
    expect(() => selectPlatform(list, { os: 'linux', architecture: 's390x' }, w)).to.throw(/no manifest for linux\/s390x in the index \(it has linux\/arm\/v6, linux\/arm\/v7, linux\/arm64, linux\/amd64\)/);
  });

  it('refuses manifests and configs that are not what they claim', () => {
    expect(() => parseManifest(Buffer.from('{nope'), w)).to.throw(/not valid JSON/).with.property('code', 'EIMAGE');
    expect(() => parseManifest(Buffer.from('{"schemaVersion":1}'), w)).to.throw(/schema 1 manifests are not supported/);
    expect(() => parseManifest(Buffer.from('{"schemaVersion":2,"config":{"digest":"sha256:00","size":1},"layers":[]}'), w)).to.throw(/is not a sha256 digest/);
    expect(() => parseManifest(Buffer.from(`{"schemaVersion":2,"config":{"digest":"sha256:${'0'.repeat(64)}","size":-1},"layers":[]}`), w)).to.throw(/no valid size/);
    expect(() => parseConfig(Buffer.from('{"rootfs":{"type":"layers","diff_ids":["x"]}}'), w)).to.throw(/diff_ids\[0\]/);
    expect(() => parseConfig(Buffer.from('{"rootfs":{"type":"layers","diff_ids":[]},"config":{"Env":"A=1"}}'), w)).to.throw(/config.Env is not a list of strings/);
  });
});

describe('registry helpers', () => {
  it('parses WWW-Authenticate challenges', () => {
    expect(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"')).to.deep.equal([
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } },
    ]);
    expect(parseChallenges('Basic realm="Registry Realm"')).to.deep.equal([{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
  });
  it('knows loopback registries as docker does', () => {
    expect(['localhost:5000', '127.0.0.1', '127.1.2.3:80', '[::1]:5000', 'localhost'].map(isLoopback)).to.deep.equal([true, true, true, true, true]);
    expect(['example.com', '128.0.0.1:5000', '10.0.0.1'].map(isLoopback)).to.deep.equal([false, false, false]);
  });
});

describe('what loading ns-image costs', () => {
  /** The modules a fresh Node has loaded after `script` (ns-image's and ns-core's files, tar's). */
  function loadedAfter(script: string): string[] {
    const index = require.resolve('../src/index');
    const r = spawnSync(process.execPath, ['-e', `const m = require(${JSON.stringify(index)}); ${script}; console.log(JSON.stringify(Object.keys(require.cache)))`], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    return (JSON.parse(r.stdout) as string[]).map((p) => p.replace(/.*\/(ns-image|ns-core)\/dist\/src\//, '$1/').replace(/.*\/node_modules\/(tar)\/.*/, '$1'));
  }

  it('is the store, not the tar reader, the registry client or ns-core\'s exec stage, until a load or pull needs them', () => {
    const plain = loadedAfter('m.ImageStore');
    expect(plain).to.include('ns-image/store.js');
    for (const lazy of ['ns-image/load.js', 'ns-image/tarstream.js', 'ns-image/pull.js', 'ns-image/registry.js', 'tar', 'ns-core/exec/spawn.js', 'ns-core/seccomp/index.js']) {
      expect(plain, lazy).not.to.include(lazy);
    }
    // Not vacuous: a load's first call brings them.
    const loading = loadedAfter('m.loadImages(undefined, "/nonexistent").catch(() => {})');
    for (const used of ['ns-image/load.js', 'ns-image/tarstream.js', 'tar']) expect(loading, used).to.include(used);
  });
});
