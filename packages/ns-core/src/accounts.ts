/**
 * Users and groups from passwd(5) and group(5) text: the one reader nstools has. Node has no
 * getpwnam(3), so the files that back it on a plain system are read (the host's /etc, or a
 * container's own); names served only by NSS modules (LDAP, systemd-homed) are not seen, and
 * a numeric id works for those.
 */
export const PASSWD_FILE = '/etc/passwd';
export const GROUP_FILE = '/etc/group';

export interface PasswdEntry {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  readonly shell: string;
}

export interface GroupEntry {
  readonly name: string;
  readonly gid: number;
  readonly members: readonly string[];
}

/** passwd(5) lines: name:password:uid:gid:gecos:home:shell. Lines without numeric ids are skipped. */
export function parsePasswd(text: string): PasswdEntry[] {
  return text.split('\n').flatMap((line) => {
    const f = line.split(':');
    if (f.length < 4 || !f[0] || !/^\d+$/.test(f[2]!) || !/^\d+$/.test(f[3]!)) return [];
    return [{ name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '', shell: f[6] ?? '' }];
  });
}

/** group(5) lines: name:password:gid:member,member. */
export function parseGroup(text: string): GroupEntry[] {
  return text.split('\n').flatMap((line) => {
    const f = line.split(':');
    if (f.length < 3 || !f[0] || !/^\d+$/.test(f[2]!)) return [];
    return [{ name: f[0], gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) }];
  });
}
