/**
 * Two rootless containers at once: from one process through the library (what the "one
 * rootless container at a time" guard refused while an init shared the runner's memory), and
 * from two ns-run commands (each its own C supervisor). Both run at the same time and each
 * ends with its own status. Checked from outside: the states both running, the exit codes.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AS_NOBODY, busyboxRootfs, removeTree, running, start, uniqueName } from './helpers';

let rootfs: string;
let script: string;

before(() => {
  rootfs = busyboxRootfs();
  script = join(rootfs, 'two-containers.js');
  // Each program waits for a file the other one creates: neither can end before both ran.
  writeFileSync(script, `
const { runContainer } = require(${JSON.stringify(require.resolve('ns-container'))});
const [rootfs, a, b] = process.argv.slice(2);
(async () => {
  const shared = require('node:fs').mkdtempSync('/tmp/ns-run-two-');
  const options = (name) => ({ name, rootfs, network: 'none', volumes: [shared + ':/mnt'], tmpfs: [], stdio: ['ignore', 'inherit', 'inherit'] });
  const one = await runContainer(['sh', '-c', 'touch /mnt/' + a + '; until [ -e /mnt/' + b + ' ]; do sleep 0.05; done; exit 3'], options(a));
  const two = await runContainer(['sh', '-c', 'touch /mnt/' + b + '; until [ -e /mnt/' + a + ' ]; do sleep 0.05; done; exit 5'], options(b));
  const statuses = await Promise.all([one.exited, two.exited]);
  require('node:fs').rmSync(shared, { recursive: true });
  process.stdout.write(JSON.stringify(statuses) + '\\n');
})().catch((e) => { process.stderr.write(e.message + '\\n'); process.exit(125); });
`);
});

after(() => removeTree(rootfs));

describe('two rootless containers at once (as nobody)', () => {
  it('from one process (the library): both run, each exits with its own status', async () => {
    const [a, b] = [uniqueName('two-a'), uniqueName('two-b')];
    const p = spawn(AS_NOBODY[0]!, [...AS_NOBODY.slice(1), process.execPath, script, rootfs, a, b], { stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const code = await new Promise<number | null>((resolve) => p.on('exit', resolve));
    expect([code, err]).to.deep.equal([0, '']);
    expect(JSON.parse(out)).to.deep.equal([{ code: 3, signal: null }, { code: 5, signal: null }]);
  });

  it('from two ns-run commands: both running at once, each exits with its own status', async () => {
    const [a, b] = [uniqueName('cli-a'), uniqueName('cli-b')];
    const one = start(['--name', a, '--rootfs', rootfs, '--', 'sh', '-c', 'read x; exit 3'], { rootless: true });
    const two = start(['--name', b, '--rootfs', rootfs, '--', 'sh', '-c', 'read x; exit 5'], { rootless: true });
    const [sa, sb] = await Promise.all([running(a, true), running(b, true)]);
    expect(sa.init!.pid).to.not.equal(sb.init!.pid);
    // Both are running now (running() saw each program started): let them end.
    one.proc.stdin!.end('\n');
    two.proc.stdin!.end('\n');
    expect([(await one.exit).code, (await two.exit).code]).to.deep.equal([3, 5]);
  });
});
