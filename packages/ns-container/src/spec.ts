/**
 * ContainerSpec: what a container is, as the OCI runtime specification's config.json says it
 * (runtime-spec config.md, config-linux.md), in the subset nstools runs. Both CLIs meet here:
 * ns-run-oci reads one from a bundle, ns-run builds one from its options and an image's config.
 * The field names are the spec's own, so a bundle's JSON is a ContainerSpec as it is.
 */

/** config.md "root". */
export interface SpecRoot {
  readonly path: string;
  readonly readonly?: boolean;
}

/** config.md "mounts": one entry, options as mount(8) spells them (ro, nosuid, rbind, size=64m...). */
export interface SpecMount {
  readonly destination: string;
  readonly type?: string;
  readonly source?: string;
  readonly options?: readonly string[];
  /** config.md: uidMappings/gidMappings on a mount make it idmapped. */
  readonly uidMappings?: readonly SpecIdMapping[];
  readonly gidMappings?: readonly SpecIdMapping[];
}

/** config-linux.md "User namespace mappings". */
export interface SpecIdMapping {
  readonly containerID: number;
  readonly hostID: number;
  readonly size: number;
}

export interface SpecUser {
  readonly uid: number;
  readonly gid: number;
  readonly umask?: number;
  readonly additionalGids?: readonly number[];
}

/** config.md "capabilities": names such as CAP_CHOWN. */
export interface SpecCapabilities {
  readonly bounding?: readonly string[];
  readonly effective?: readonly string[];
  readonly inheritable?: readonly string[];
  readonly permitted?: readonly string[];
  readonly ambient?: readonly string[];
}

export interface SpecRlimit {
  readonly type: string;
  readonly hard: number;
  readonly soft: number;
}

export interface SpecConsoleSize {
  readonly height: number;
  readonly width: number;
}

/** config.md "process". */
export interface SpecProcess {
  readonly terminal?: boolean;
  readonly consoleSize?: SpecConsoleSize;
  readonly user: SpecUser;
  readonly args: readonly string[];
  readonly env?: readonly string[];
  readonly cwd: string;
  readonly capabilities?: SpecCapabilities;
  readonly rlimits?: readonly SpecRlimit[];
  readonly noNewPrivileges?: boolean;
  readonly oomScoreAdj?: number;
  readonly apparmorProfile?: string;
  readonly selinuxLabel?: string;
}

/** config-linux.md "namespaces": a type to create, or to join when `path` is given. */
export interface SpecNamespace {
  readonly type: 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup' | 'time';
  readonly path?: string;
}

/** config-linux.md "devices". */
export interface SpecDevice {
  readonly type: 'c' | 'b' | 'u' | 'p';
  readonly path: string;
  readonly major?: number;
  readonly minor?: number;
  readonly fileMode?: number;
  readonly uid?: number;
  readonly gid?: number;
}

/** config-linux.md "resources": the parts this runtime applies. */
export interface SpecResources {
  readonly memory?: { readonly limit?: number; readonly reservation?: number; readonly swap?: number };
  readonly cpu?: { readonly shares?: number; readonly quota?: number; readonly period?: number; readonly cpus?: string; readonly mems?: string };
  readonly pids?: { readonly limit: number };
  readonly devices?: readonly { readonly allow: boolean; readonly type?: string; readonly major?: number; readonly minor?: number; readonly access?: string }[];
}

/** config-linux.md "seccomp": the same JSON podman and docker profiles use. */
export interface SpecSeccomp {
  readonly defaultAction: string;
  readonly defaultErrnoRet?: number;
  readonly architectures?: readonly string[];
  readonly flags?: readonly string[];
  readonly syscalls?: readonly {
    readonly names: readonly string[];
    readonly action: string;
    readonly errnoRet?: number;
    readonly args?: readonly { readonly index: number; readonly value: number; readonly valueTwo?: number; readonly op: string }[];
  }[];
}

export interface SpecLinux {
  readonly namespaces?: readonly SpecNamespace[];
  readonly uidMappings?: readonly SpecIdMapping[];
  readonly gidMappings?: readonly SpecIdMapping[];
  readonly devices?: readonly SpecDevice[];
  readonly cgroupsPath?: string;
  readonly resources?: SpecResources;
  readonly sysctl?: Readonly<Record<string, string>>;
  readonly seccomp?: SpecSeccomp;
  readonly rootfsPropagation?: 'private' | 'rprivate' | 'slave' | 'rslave' | 'shared' | 'rshared' | 'unbindable' | 'runbindable';
  readonly maskedPaths?: readonly string[];
  readonly readonlyPaths?: readonly string[];
  readonly mountLabel?: string;
}

/** config.md "hooks". */
export interface SpecHook {
  readonly path: string;
  readonly args?: readonly string[];
  readonly env?: readonly string[];
  readonly timeout?: number;
}

export interface SpecHooks {
  readonly prestart?: readonly SpecHook[];
  readonly createRuntime?: readonly SpecHook[];
  readonly createContainer?: readonly SpecHook[];
  readonly startContainer?: readonly SpecHook[];
  readonly poststart?: readonly SpecHook[];
  readonly poststop?: readonly SpecHook[];
}

/** config.md, top level. */
export interface ContainerSpec {
  readonly ociVersion: string;
  readonly root?: SpecRoot;
  readonly mounts?: readonly SpecMount[];
  readonly process?: SpecProcess;
  readonly hostname?: string;
  readonly domainname?: string;
  readonly hooks?: SpecHooks;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly linux?: SpecLinux;
}

/** The runtime-spec version this runtime implements (what `ns-run-oci features` reports). */
export const OCI_VERSION = '1.2.0';
