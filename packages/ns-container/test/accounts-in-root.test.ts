/**
 * Issue 18 #5's reader: a container's account files read inside its root (openat2
 * RESOLVE_IN_ROOT), never through a symlink out of it, never from a FIFO or a device, never
 * more than ACCOUNT_FILE_MAX bytes. A directory stands for the container's root here.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sys, type NsError } from 'ns-core';
import { removeTree } from 'ns-test-kit';
import { ACCOUNT_FILE_MAX, readAccountsInRoot } from '../src/index';

describe('reading a container\'s accounts inside its root', () => {
  let dir: string;
  let root: string;
  let fd: number;
  const outside = () => join(dir, 'host-passwd');

  beforeEach(() => {
    dir = mkdtempSync('/tmp/ns-container-accounts-');
    root = join(dir, 'root');
    mkdirSync(join(root, 'etc'), { recursive: true });
    writeFileSync(outside(), 'host:x:4242:4242::/:/bin/sh\n');
    fd = sys.openRaw(root, sys.O_PATH | sys.O_DIRECTORY);
  });

  afterEach(() => {
    sys.closeFd(fd);
    removeTree(dir);
  });

  const failure = async (): Promise<NsError> => {
    try {
      await readAccountsInRoot(fd);
    } catch (e) {
      return e as NsError;
    }
    throw new Error('expected a refusal');
  };

  it('reads regular files; a missing one is empty; an absolute symlink on the way resolves inside the root', async () => {
    writeFileSync(join(root, 'etc/passwd'), 'probe:x:1000:1000::/:/bin/sh\n');
    expect(await readAccountsInRoot(fd)).to.deep.equal({ passwd: 'probe:x:1000:1000::/:/bin/sh\n', group: '' });
    // /etc -> /real/etc: followed as if the root were /, so root/real/etc, not the host's.
    removeTree(join(root, 'etc'));
    mkdirSync(join(root, 'real/etc'), { recursive: true });
    writeFileSync(join(root, 'real/etc/group'), 'g:x:5:\n');
    symlinkSync('/real/etc', join(root, 'etc'));
    expect(await readAccountsInRoot(fd)).to.deep.equal({ passwd: '', group: 'g:x:5:\n' });
    // And a directory symlink aimed at the host's directory of the "host" file finds nothing inside.
    removeTree(join(root, 'etc'));
    symlinkSync(dir, join(root, 'etc'));
    expect(await readAccountsInRoot(fd)).to.deep.equal({ passwd: '', group: '' });
  });

  it('refuses a symlink as the file itself (even one whose target is a host file), a FIFO at once, a device, and a file too large', async () => {
    symlinkSync(outside(), join(root, 'etc/passwd'));
    expect((await failure()).message).to.equal("--user: the container's /etc/passwd is a symlink, not a regular file; names are read only from one");
    removeTree(join(root, 'etc/passwd'));
    execFileSync('mkfifo', [join(root, 'etc/passwd')]);
    const started = Date.now();
    expect((await failure()).code).to.equal('EINVAL');
    expect(Date.now() - started).to.be.below(2000);
    removeTree(join(root, 'etc/passwd'));
    execFileSync('mknod', [join(root, 'etc/passwd'), 'c', '1', '3']); // /dev/null's numbers
    expect((await failure()).message).to.match(/is a device, not a regular file/);
    removeTree(join(root, 'etc/passwd'));
    writeFileSync(join(root, 'etc/passwd'), '');
    truncateSync(join(root, 'etc/passwd'), ACCOUNT_FILE_MAX + 1);
    expect((await failure()).code).to.equal('EFBIG');
  });

  it('refuses a /proc magic link on the way (RESOLVE_NO_MAGICLINKS)', async () => {
    removeTree(join(root, 'etc'));
    symlinkSync(`/proc/${process.pid}/root/${dir.slice(1)}`, join(root, 'etc'));
    // Inside the root there is no /proc: nothing found, read as empty.
    expect(await readAccountsInRoot(fd)).to.deep.equal({ passwd: '', group: '' });
    const viaProc = sys.openRaw('/', sys.O_PATH | sys.O_DIRECTORY);
    try {
      // From the host's / the same link is a real magic link: openat2 refuses it (ELOOP, or EXDEV).
      let code: string | undefined;
      try {
        sys.closeFd(sys.openat2(viaProc, `proc/${process.pid}/root/${outside().slice(1)}`, sys.O_PATH | sys.O_NOFOLLOW,
                                sys.RESOLVE.IN_ROOT | sys.RESOLVE.NO_MAGICLINKS));
      } catch (e) {
        code = (e as NsError).code;
      }
      expect(code).to.be.oneOf(['ELOOP', 'EXDEV']);
    } finally {
      sys.closeFd(viaProc);
    }
  });
});
