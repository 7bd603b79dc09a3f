/** linux.cgroupsPath and linux.resources to ns-cgroup's limits, without privileges: the fields as the kernel files take them, bad values named. */
import { expect } from 'chai';
import type { NsError } from 'ns-core';
import { planLimitWrites, type CgroupHierarchy, type CgroupLayout } from 'ns-cgroup';
import { thrown } from 'ns-test-kit';
import { cgroupPathOf, DEFAULT_DEVICE_RULES, limitsOf } from '../src/compile';

const v1 = (controllers: string[]): CgroupHierarchy => ({ version: 1, mountPoint: `/sys/fs/cgroup/${controllers[0]}`, root: '/', controllers });
const hybrid: CgroupLayout = { v1: ['memory', 'pids', 'cpu', 'cpuset', 'devices', 'freezer'].map((c) => v1([c])), v2: { version: 2, mountPoint: '/sys/fs/cgroup/unified', root: '/', controllers: [] } };
const unified: CgroupLayout = { v1: [], v2: { version: 2, mountPoint: '/sys/fs/cgroup', root: '/', controllers: ['memory', 'pids', 'cpu', 'cpuset'] } };

describe('compile: cgroupsPath and resources', () => {
  it('cgroupsPath: absolute as given, relative kept relative, absent is the id, the systemd form as systemd names the scope, .. refused', () => {
    expect(cgroupPathOf('/libpod_parent/libpod-abc', 'abc')).to.equal('/libpod_parent/libpod-abc');
    expect(cgroupPathOf('default/abc/', 'abc')).to.equal('default/abc');
    expect(cgroupPathOf(undefined, 'abc')).to.equal('abc');
    expect(cgroupPathOf('machine.slice:libpod:abc', 'abc')).to.equal('/machine.slice/libpod-abc.scope');
    expect(thrown<NsError>(() => cgroupPathOf('a/../../b', 'x')).message).to.match(/^linux\.cgroupsPath: /);
  });

  it('resources as v1 files on a hybrid host, as v2 files on a unified one; -1 leaves the default', () => {
    const resources = { memory: { limit: 64 << 20, reservation: 1 << 20 }, pids: { limit: 50 }, cpu: { shares: 1024, quota: 50000, period: 100000, cpus: '0' } };
    const files = (layout: CgroupLayout) => planLimitWrites(limitsOf(resources, layout, []), layout).map((w) => `${w.file}=${w.value}`);
    expect(files(hybrid)).to.deep.equal(['memory.limit_in_bytes=67108864', 'pids.max=50', 'cpu.cfs_period_us=100000', 'cpu.cfs_quota_us=50000',
                                         'memory.soft_limit_in_bytes=1048576', 'cpu.shares=1024', 'cpuset.cpus=0']);
    expect(files(unified)).to.deep.equal(['memory.max=67108864', 'pids.max=50', 'cpu.max=50000 100000', 'memory.low=1048576', 'cpu.weight=39', 'cpuset.cpus=0']);
    expect(limitsOf({ memory: { limit: -1 }, pids: { limit: 0 }, cpu: { quota: -1 } }, hybrid, [])).to.deep.equal({ memory: 'max', pidsMax: 'max' });
  });

  it('devices: the spec\'s rules in order, then the runtime\'s defaults; on a v2-only host a warning', () => {
    const devices = [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 4, minor: -1, access: 'rw' }];
    const limits = limitsOf({ devices }, hybrid, []);
    expect(limits.devices!.slice(0, 2)).to.deep.equal([{ allow: false, rule: 'a *:* rwm' }, { allow: true, rule: 'c 4:* rw' }]);
    expect(limits.devices!.slice(2).map((d) => d.rule)).to.deep.equal(DEFAULT_DEVICE_RULES);
    const warnings: string[] = [];
    expect(limitsOf({ devices }, unified, warnings)).to.deep.equal({});
    expect(warnings[0]).to.match(/^linux\.resources\.devices: /);
  });

  it('bad values name the field', () => {
    const field = (r: object) => thrown<NsError>(() => limitsOf(r, hybrid, [])).message.split(':')[0];
    expect(field({ pids: { limit: 'many' } })).to.equal('linux.resources.pids.limit');
    expect(field({ memory: { limit: 0 } })).to.equal('linux.resources.memory.limit');
    expect(field({ memory: { limit: 100 << 20, swap: 50 << 20 } })).to.equal('linux.resources.memory.swap');
    expect(field({ cpu: { shares: 1 } })).to.equal('linux.resources.cpu.shares');
    expect(field({ cpu: { cpus: '0-x' } })).to.equal('linux.resources.cpu.cpus');
    expect(field({ devices: [{ allow: true, type: 'x' }] })).to.equal('linux.resources.devices[0].type');
  });
});
