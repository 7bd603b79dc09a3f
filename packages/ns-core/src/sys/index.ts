/** Thin typed syscall wrappers, one module per family; each throws NsError on failure. */
export { unshare, setns, CLONE_FS } from './sched';
export { mount, umount2, MS, MNT, UMOUNT_NOFOLLOW, mountFlags, mountFlagsToString, openTree, mountSetattr, fsMount, MOUNT_ATTR, type MountFlag, type FsConfigValue } from './mount';
export { nsGetType, nsGetUserns, nsGetParent, nsGetOwnerUid, nsRelatedFd, ioctlFd } from './nsfs';
export { firstChildOf, pidfdOpen, pidfdGetfd, pidfdSendSignal, waitPidfd, prctl, closeFd, pipe, execve, signalName, WEXITED, WNOHANG, WNOWAIT, type WaitResult } from './process';
export { sethostname, setdomainname, uname } from './uts';
export * as socket from './socket';
export {
  fchdirRaw as fchdir, chrootRaw as chroot, dupCloexec, openRaw, memfdCreate, addSeals, setCloexec, fileStatusFlags, setFileStatusFlags,
  F_SEAL, STDIO_FLAGS_AT_LOAD, O_PATH, O_DIRECTORY, O_NOFOLLOW,
} from './fs';
export { lsetxattr, lgetxattr, llistxattr, mknod, makedev, flock, syncfs, openat2, statIds, RESOLVE, LOCK_SH, LOCK_EX, LOCK_NB, LOCK_UN } from './files';
export { inotifyInit, inotifyAddWatch, IN, IN_NONBLOCK } from './inotify';
