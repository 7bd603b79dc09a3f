import { expect } from 'chai';
import { thrown } from 'ns-test-kit';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { compileSpawn, Namespace, spawn, type NsError } from 'ns-core';
import { readUts, uts, validateName } from '../src/index';

const CLI = join(__dirname, '../../bin/ns-uts.js');

describe('ns-uts', () => {
  describe('plan (no privileges)', () => {
    it('creates a uts namespace and sets the names before exec', () => {
      const { plan } = compileSpawn(['true'], { steps: [uts({ hostname: 'box', domainname: 'lan' })] }, new Map());
      expect(plan.cloneKinds).to.deep.equal(['uts']);
      const ops = plan.ops.map((o) => o.op);
      expect(ops.indexOf('sethostname')).to.be.lessThan(ops.indexOf('exec'));
      expect(plan.ops.find((o) => o.op === 'setdomainname')).to.include({ name: 'lan' });
    });

    it('rejects empty and over-long names before anything runs', () => {
      expect(() => validateName('--hostname', '')).to.throw(/--hostname: name must not be empty/);
      expect(() => uts({ hostname: 'x'.repeat(65) })).to.throw(/--hostname: 'x+' is 65 bytes/)
        .with.property('code', 'EUSAGE');
      expect(() => uts({ domainname: 'd'.repeat(64) })).not.to.throw();
    });
  });

  describe('against the kernel', () => {
    it('gives the program its own hostname and leaves the host alone', async () => {
      const child = await spawn(['sleep', '5'], { steps: [uts({ hostname: 'inside-box', domainname: 'inside.lan' })] });
      try {
        expect(readUts(child.pid)).to.deep.equal({ hostname: 'inside-box', domainname: 'inside.lan' });
        const host = Namespace.ofPid('self', 'uts').use((ns) => ns.id);
        expect(child.namespaces.uts).to.be.a('number').and.not.equal(host);
        expect(hostname()).not.to.equal('inside-box');
      } finally {
        child.kill('SIGKILL');
        await child.exited;
      }
    });

    it('matches util-linux: unshare -u with hostname set inside', () => {
      const ours = spawnSync(process.execPath, [CLI, '--hostname', 'same-name', '--', 'hostname'], { encoding: 'utf8' });
      const theirs = spawnSync('unshare', ['-u', 'sh', '-c', 'hostname same-name && hostname'], { encoding: 'utf8' });
      expect(ours.status).to.equal(0);
      expect(ours.stdout).to.equal(theirs.stdout);
      expect(ours.stderr).to.equal('');
    });

    it('CLI: bad input exits 1 with one line naming the option', () => {
      const r = spawnSync(process.execPath, [CLI, '--hostname', 'y'.repeat(70), 'true'], { encoding: 'utf8' });
      expect(r.status).to.equal(1);
      expect(r.stderr.trim().split('\n')).to.have.length(1);
      expect(r.stderr).to.match(/^ns-uts: --hostname: /);
      const unknown = spawnSync(process.execPath, [CLI, '--net', 'true'], { encoding: 'utf8' });
      expect(unknown.status).to.equal(1);
      expect(unknown.stderr).to.match(/^ns-uts: unrecognized option '--net'\n/);
    });

    it('a repeated --hostname takes the last, as util-linux options do', () => {
      const r = spawnSync(process.execPath, [CLI, '--hostname', 'first', '--hostname', 'second', '--', 'hostname'], { encoding: 'utf8' });
      expect(r.stderr).to.equal('');
      expect(r.stdout.trim()).to.equal('second');
    });

    it('passes the exit status through and reports a missing program as 127', () => {
      expect(spawnSync(process.execPath, [CLI, 'sh', '-c', 'exit 7']).status).to.equal(7);
      const missing = spawnSync(process.execPath, [CLI, '/no/such/program'], { encoding: 'utf8' });
      expect(missing.status).to.equal(127);
      expect(missing.stderr).to.match(/ns-uts: failed to execute \/no\/such\/program: ENOENT/);
    });

    it('reading the names of a process that does not exist is an NsError ENOENT', () => {
      expect(thrown<NsError>(() => readUts(-1))).to.have.property('code', 'ENOENT');
    });
  });
});
