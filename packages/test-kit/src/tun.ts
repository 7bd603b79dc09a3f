/**
 * /dev/net/tun opened to every user for a while, as Debian's udev has it (0666), on a host
 * that made it 0600: pasta opens it as the user. Other suites on the machine may do the same
 * at the same time, so the window is held under a lock across processes (flock(1), the
 * oracle-side tool, holding /tmp/nstools-tun.lock): each sees the host's own mode, and gives
 * it back, before the next one looks.
 */
import { spawn } from 'node:child_process';
import { chmodSync, statSync } from 'node:fs';

const TUN = '/dev/net/tun';
const LOCK = '/tmp/nstools-tun.lock';

/**
 * Waits for the lock, then opens /dev/net/tun to users if `usable()` says they cannot use it.
 * @returns restore(): the mode given back and the lock released (idempotent).
 */
export async function openTunToUsers(usable: () => boolean): Promise<() => void> {
  // A process group of its own: the lock is held by flock and by the sleep that inherits its
  // fd, and both go with the group's SIGKILL.
  const holder = spawn('flock', [LOCK, '-c', 'echo locked; exec sleep 600'], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.once('data', () => resolve());
    holder.once('exit', (code) => reject(new Error(`flock ${LOCK} ended (${code}) before taking the lock`)));
  });
  const mode = statSync(TUN).mode & 0o7777;
  const opened = !usable();
  if (opened) chmodSync(TUN, 0o666);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    try {
      if (opened) chmodSync(TUN, mode);
    } finally {
      process.kill(-holder.pid!, 'SIGKILL');
    }
  };
}
