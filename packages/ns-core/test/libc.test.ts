import { expect } from 'chai';
import { libcFunctions } from '../src/sys/native';
import '../src/index';

describe('libc bindings', () => {
  it('a function is bound once per process, by the name its prototype declares, pointer results included', () => {
    const [a, b] = [libcFunctions(['int getpid(void)']), libcFunctions(['int getpid(void)'])];
    expect(a.getpid).to.equal(b.getpid);
    expect(a.getpid()).to.equal(process.pid);
    expect(libcFunctions(['char *getenv(const char *name)']).getenv('HOME')).to.equal(process.env['HOME']);
  });

  it('declaring a function two ways fails as the module loads (sys/process.ts and sys/mount.ts both declare close)', () => {
    expect(libcFunctions(['int close(int fd)']).close(-1)).to.equal(-1);
    expect(() => libcFunctions(['long close(int fd)'])).to.throw("close is declared as both 'int close(int fd)' and 'long close(int fd)'");
  });
});
