/**
 * The container runner: a program in new user, mount, pid, network, uts, ipc and cgroup
 * namespaces, under an init as PID 1, with its own root filesystem, ids, limits and
 * privileges, composed from the per-kind packages. Rootless when the caller is not root.
 *
 * Life of a container: plan (pure but for reading the rootfs and /etc) -> state file claimed
 * (the name) -> each host object recorded in it before it is made (what the next ns-run call
 * reclaims should this process die) -> subnet leased -> ports listened on -> spawn
 * (every namespace and mount made by the exec stage, maps/veth/cgroup by the parent while the
 * child waits) -> state recorded -> program runs -> everything removed when it exits.
 */
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants } from 'node:os';
import {
  execInPlace, Namespace, NsError, RELAYED_SIGNALS, spawn, type ExitStatus, type NsChild, type Step, type SuperviseCleanup, type SuperviseOptions } from 'ns-core';
import { liveStatus, reclaimDead } from './lifecycle';
import { containerCgroup, LeftoversError, type ContainerCgroup } from './cgroup';
import { forwardInside, stopForwarder } from '../network/inside';
import {
  addPublished, attachRootless, bindTargets, enableLocalnet, handOverLease, isNetworkName, leaseSubnet, netnsDialer, pastaResolvConfVolume, PortProxy,
  prepareNetwork, PASTA_NETWORK, PROXY_LIMITS, releaseNetwork, releaseSubnet, removePublished, type Attachment, type PublishSpec, type RootlessAttachment, type Subnet,
} from '../network';
import { directoryView } from './inroot';
import { checkProgramInRoot } from './program';
import { assembleFilesystem, parseTmpfs } from './rootfs';
import { idmappedTrees } from './idmap';
import type { ContainerRoot } from 'ns-image';
import { leaseChosenRange, leaseIdRange, releaseIdRange, type IdRangeLease } from './idranges';
import { baseEnv, cgroupNeeded, containerSteps, mergeEnv, planContainer, subnetVeth, withIdRange, type ContainerOptions, type ContainerPlan } from './options';
import { childRef, isAlive, processRef, randomHex, StateStore, STATE_VERSION, type ContainerState, type ProcessRef } from './state';

/** A running container. */
export interface Container {
  readonly name: string;
  /** docker's 64 hex digits. */
  readonly id: string;
  readonly child: NsChild;
  /** Host pids of the init (PID 1 inside) and of the program (PID 2). */
  readonly pid: number;
  readonly programPid: number | undefined;
  readonly subnet?: Subnet;
  /** On a network (--network NAME): its lease and names. */
  readonly attachment?: Attachment;
  readonly ports: readonly PublishSpec[];
  readonly stateFile: string;
  /**
   * Resolves once the program has exited and everything the container had is removed; rejects
   * with LeftoversError (carrying the status) when something could not be.
   */
  readonly exited: Promise<ExitStatus>;
  kill(signal?: NodeJS.Signals): boolean;
}

/**
 * Starts the program in a new container; resolves once it runs.
 * @throws NsError EUSAGE for bad options; EEXIST for a taken name; any setup failure, after
 *   removing everything made so far.
 */
export async function runContainer(argv: readonly string[], options: ContainerOptions = {}): Promise<Container> {
  let plan = planContainer(argv, options);
  const rootless = plan.identity.mode !== 'range';
  const store = new StateStore(options.stateDir).prepare();
  reclaimDead(store);
  const undo: (() => void | Promise<void>)[] = [];
  // In place, this process becomes the supervisor, which removes what the container has (an
  // image root and a named network's lease by its on-exit command, reap-main). A failure before
  // the exec is undone here. With cgroup limits too (a directory the supervisor could not
  // remove is reported on its stderr: issue 18 #8), and on a rootless network (its helper's
  // namespaces are joined).
  const inPlace = (options.inPlace ?? false) && !plan.publish.length && !options.detach;
  const stateFile = store.fileOf(plan.name);
  let child: NsChild | undefined;
  try {
    const id = randomHex(32);
    // The container's own ids (root's containers): leased before anything is made with them.
    let idRange: IdRangeLease | undefined;
    const owner = { name: plan.name, id, runner: processRef(process.pid) };
    if (plan.identity.autoRange) {
      idRange = leaseIdRange(store, owner);
      plan = withIdRange(plan, idRange.outer);
    } else if (plan.identity.mode === 'range' && plan.identity.usernsMode !== 'host') {
      // A range of the user's choosing is leased too: no container shares its ids, before or after.
      idRange = leaseChosenRange(store, owner, plan.identity.uidMap[0]!.outer, plan.identity.uidMap[0]!.count);
    }
    if (idRange) {
      const lease = idRange;
      undo.unshift(() => releaseIdRange(lease));
    }
    const leases = [...(idRange ? [idRange.file] : [])];
    const initial: ContainerState = {
      version: STATE_VERSION, name: plan.name, created: new Date().toISOString(), status: 'creating',
      runner: processRef(process.pid), argv: plan.argv, rootfs: plan.rootfs ?? null, network: plan.network, ports: plan.publish,
      ...(plan.image ? { image: { id: plan.image.id, reference: plan.image.reference, store: plan.image.store.root } } : {}),
      namespaces: plan.kinds, cgroups: [], env: [], workdir: plan.workdir, uid: plan.identity.uid, gid: plan.identity.gid,
      setgroupsAllowed: plan.identity.setgroupsAllowed, capabilities: plan.capabilities.toString(16), seccomp: plan.seccompProfile,
      id, autoRemove: !options.detach || (options.autoRemove ?? false), config: inspectedConfig(plan, options),
      // Named by the claim itself (a write less): should the claim fail, the file is not ours and says nothing.
      // (The id range was leased before the name: its own owner check reclaims it should we die in between.)
      ...(idRange ? { reclaim: { leases: [idRange.file] } } : {}),
    };
    let latest = initial;
    claimName(store, initial);
    undo.unshift(() => store.release(plan.name, initial.runner));
    // Recorded in the state before it exists (reclaimDead removes it if we die): only once the
    // file is ours, so that nothing of another container's is ever named there.
    const willMake = (more: NonNullable<ContainerState['reclaim']>) => {
      const r = latest.reclaim ?? {};
      store.update(latest = { ...latest, reclaim: {
        leases: [...r.leases ?? [], ...more.leases ?? []], links: [...r.links ?? [], ...more.links ?? []], cgroups: [...r.cgroups ?? [], ...more.cgroups ?? []],
      } });
    };
    // A detached container's pasta ends when these go (network/pasta.ts): its supervisor's unlink words, or the reclaim.
    if (plan.pastaLinks) willMake({ leases: [...plan.pastaLinks] });

    let subnet: (Subnet & { lease: string }) | undefined;
    if (plan.network === 'veth') {
      subnet = leaseSubnet(store.subnetsDir, plan.subnet, (file) => willMake({ leases: [file] }));
      const lease = subnet.lease;
      undo.unshift(() => releaseSubnet(lease));
      willMake({ links: [subnet.hostInterface] });
    }
    let attachment: Attachment | undefined;
    let rootlessNet: RootlessAttachment | undefined;
    if (isNetworkName(plan.network)) {
      // A lease left by a killed runner is dropped by the next prepareNetwork (its owner is gone).
      attachment = prepareNetwork({ network: plan.network, container: plan.name, aliases: plan.aliases, ...(rootless ? { madeElsewhere: true } : {}) });
      const held = attachment;
      undo.unshift(() => releaseNetwork(held));
      // Rootless, the veth is made in the user's rootless network namespace and goes with it.
      if (!rootless) willMake({ links: [held.lease.hostInterface] });
      if (plan.rootfs !== undefined) bindTargets(plan.rootfs);
      if (rootless) {
        // The user's rootless network namespace (network/rootless.ts): the container joins
        // the user and network namespaces made there; the veth goes with its namespace.
        const made = rootlessNet = await attachRootless(held.network, held.veth);
        undo.unshift(() => made.release());
      }
    }
    // As root with an address to send to, ports are published by DNAT (network/dnat.ts) and
    // the proxy only holds the host ports (it never dials); otherwise it carries the bytes. A
    // forwarder inside the container's namespaces serves them instead (see forwarderStep)
    // when this process cannot join those itself (rootless) or will not stay (detached: the
    // rules and the held ports are this process's).
    const proxy = await PortProxy.listen(plan.publish);
    const forwarded = plan.publish.length > 0 && plan.network !== 'host' && (rootless || (options.detach ?? false));
    const forwarder: { child?: NsChild } = {};
    undo.unshift(() => proxy.close(PROXY_DRAIN_MS));
    const dnat = !rootless && !forwarded && plan.publish.length && (subnet || attachment)
      ? { container: plan.name, holder: initial.runner, ports: plan.publish,
          ...(subnet ? { address: subnet.peer, ifname: subnet.hostInterface } : { address: attachment!.lease.address, ifname: attachment!.network.bridge }) }
      : undefined;
    if (dnat) {
      const owner = addPublished(dnat);
      undo.unshift(() => removePublished(owner));
      // A veth's host end exists only once the container does (below).
      if (attachment) enableLocalnet(dnat);
    }

    let filesystem = plan.filesystem;
    if (plan.image) {
      const image = plan.image;
      const root = createImageRoot(plan);
      undo.unshift(() => void image.store.removeContainerRoot(plan.name));
      filesystem = { ...filesystem, overlay: { ...filesystem.overlay!, ...(root.upper ? { upper: root.upper, work: root.work! } : {}) } };
    }
    // --network pasta: its resolv.conf, where the root has one to bind on (network/pasta.ts).
    const pastaResolv = plan.network === PASTA_NETWORK ? pastaResolvConfVolume(plan, store.root) : undefined;
    if (pastaResolv) filesystem = { ...filesystem, volumes: [...filesystem.volumes ?? [], pastaResolv] };
    if (attachment) {
      filesystem = { ...filesystem, volumes: [...filesystem.volumes ?? [],
        { source: attachment.files.hosts, dest: '/etc/hosts', readOnly: true },
        { source: attachment.files.resolvConf, dest: '/etc/resolv.conf', readOnly: true }] };
    }
    let cgroup: ContainerCgroup | undefined;
    if (cgroupNeeded(plan.limits)) {
      const root = plan.identity.mode === 'range' ? { uid: plan.identity.uidMap[0]!.outer, gid: plan.identity.gidMap[0]!.outer } : undefined;
      cgroup = containerCgroup(`ns-run-${plan.name}-${process.pid}`, plan.limits, root);
      willMake({ cgroups: cgroup.all });
    }
    const veth = subnet ? subnetVeth(subnet) : rootlessNet ? undefined : attachment?.veth;
    // In place, the namespaces the container joins are taken from a holder first: its user
    // namespace has the container's maps, so it idmaps the trees too (no second holder for them).
    const joined = inPlace ? await holdNamespaces(plan, containerSteps(plan, [], veth, cgroup), cgroup, undo, rootlessNet) : undefined;
    // As root, the rootfs and volumes as idmapped detached trees (idmap.ts); our copies of their fds close once the child has them.
    const idmapped = await idmappedTrees(filesystem, plan.identity, rootlessNet ? undefined : joined?.[0]);
    undo.push(() => idmapped.close());
    const fs = assembleFilesystem({ ...filesystem, trees: idmapped.trees });
    const env = mergeEnv(baseEnv(plan, fs.home, options.callerEnv ?? process.env), plan.image?.env ?? [], plan.env);
    const view = plan.image?.view ?? (plan.rootfs !== undefined ? directoryView(plan.rootfs) : undefined);
    if (view) {
      const mounted = [...(plan.filesystem.volumes ?? []).map((v) => v.dest), ...(plan.filesystem.tmpfs ?? []).map((t) => parseTmpfs(t).dest)];
      checkProgramInRoot(view, plan.argv[0]!, env, plan.workdir, plan.image ? `the image ${plan.image.reference}` : `--rootfs ${plan.rootfs}`, mounted);
    }
    const planned = containerSteps(plan, fs.steps, veth, cgroup);
    const steps = [...(rootlessNet ? joiningSteps(plan, planned).map(relaysDieWithParent) : planned),
      ...(forwarded ? [forwarderStep(proxy, undo, forwarder, options.detach ?? false)] : [])];
    const addresses = {
      ...(subnet ? { address: subnet.peer, hostAddress: subnet.host, hostInterface: subnet.hostInterface } : {}),
      ...(attachment ? { address: attachment.lease.address, hostAddress: attachment.network.gateway, hostInterface: attachment.lease.hostInterface,
                         attachment: attachment.inspect } : {}),
    };
    if (joined) {
      await execContainer(plan, planned, env, store, { ...latest, ...addresses, env },
                          { leases: [...leases, ...(subnet ? [subnet.lease] : [])], cgroup, joined }, options);
    }
    let log: number | undefined;
    if (options.detach) {
      log = openSync(store.logOf(plan.name), 'wx', 0o600);
      const logFd = log;
      undo.push(() => closeSync(logFd));
    }
    child = await spawn(plan.argv, {
      steps, env, cwd: plan.workdir, ...(rootlessNet ? { join: [{ pidfd: rootlessNet.pidfd, kinds: ['user', 'net'] as const }] } : {}),
      ...(log !== undefined ? {
        stdio: ['ignore', log, log] as const,
        supervise: { ...detachedSupervisor(store, initial, [...leases, ...(subnet ? [subnet.lease] : []), ...plan.pastaLinks ?? []], cgroup), ...(options.terminal ? detachedTerminal(plan) : {}) },
      } : {
        killWithParent: 'SIGKILL' as const, ...(options.stdio !== undefined ? { stdio: options.stdio } : {}),
        ...(options.terminal ? { supervise: terminalSupervisor(options.terminal.input, plan) } : {}),
      }),
    });
    idmapped.close();

    // Joined: the container's network namespace lives with it now, not with the helper.
    if (rootlessNet) await rootlessNet.release();
    // Everything up to the state update is synchronous: the reaper cannot run in between, so
    // the init's pidfd stays valid if it is not reaped yet (a program that ended at once may
    // have taken its init with it).
    let netns: Namespace | undefined;
    const gone = child.exitStatus !== undefined;
    const program = !gone && child.programPid !== undefined ? liveRef(child.programPid) : undefined;
    // Detached, the supervisor's child is the init; but joined namespaces (a rootless
    // network's) put a relay before the new pid namespace's first process (joiningSteps), and
    // the init is the relay's child.
    const detachedInit = rootlessNet && program ? childRef(program.pid) ?? program : program;
    if (!gone) {
      // DNAT rules or a forwarder's copies of the listeners carry the traffic; else our proxy dials the container.
      if (dnat && subnet) enableLocalnet(dnat);
      else if (plan.publish.length && !dnat && !forwarded && !rootless) {
        netns = Namespace.ofPid(child.pid, 'net');
        proxy.dialer(netnsDialer(netns));
      }
      store.update(latest = {
        ...latest, status: 'running', startedAt: new Date().toISOString(),
        // Detached, our child is the supervisor; the container's init is its child, and signals
        // for the container go to the init (a SIGKILL for the supervisor would lose the cleanup).
        ...(options.detach && program
          ? { supervisor: { pid: child.pid, inode: fstatSync(child.pidfd).ino }, init: detachedInit,
              ...(forwarder.child ? { forwarder: processRef(forwarder.child.pid) } : {}) }
          : { init: { pid: child.pid, inode: fstatSync(child.pidfd).ino }, ...(program ? { program } : {}) }),
        ...addresses, cgroups: cgroup?.payload ?? [], env,
      });
    }
    // The forwarder accepts on its copies now; ours would only compete with it.
    if (forwarded) await proxy.close();

    const started = child;
    if (options.detach) {
      // The supervisor (and its on-exit command) removes what the container has from now on;
      // a lease held by us would be stale as soon as we exit.
      if (attachment && latest.supervisor) handOverLease(attachment, latest.supervisor);
      undo.splice(0);
      return {
        name: plan.name, id: initial.id!, child: started, pid: started.pid, programPid: started.programPid, ports: plan.publish, stateFile,
        exited: started.exited, ...(subnet ? { subnet } : {}), kill: (signal = 'SIGTERM') => started.kill(signal),
      };
    }
    const exited = started.exited.then(async (status) => {
      // Before anything is removed: `ns-run wait` reads it (StateStore.release).
      try {
        store.update(latest = { ...latest, status: 'exited', finishedAt: new Date().toISOString(), exitCode: dockerExitCode(status) });
      } catch {
        // The file is removed below in any case; a waiter then reports the end as unknown.
      }
      netns?.close();
      await runAll(undo);
      // Removed by the cgroup step's cleanup, before the status came: what it could not, named.
      if (cgroup?.leftovers.length) throw new LeftoversError(status, cgroup.leftovers);
      return status;
    });
    return {
      name: plan.name, id: initial.id!, child: started, pid: started.pid, programPid: started.programPid, ports: plan.publish, stateFile, exited,
      ...(subnet ? { subnet } : {}),
      ...(attachment ? { attachment } : {}),
      kill: (signal = 'SIGTERM') => started.kill(signal),
    };
  } catch (e) {
    if (child) {
      // Set up, but something after the spawn failed: the container must not outlive the run.
      child.kill('SIGKILL');
      await child.exited;
    }
    await runAll(undo);
    throw e;
  }
}

/**
 * -p rootless or detached: a forwarder inside the container's user and network namespaces
 * (inside.ts), started at the sync point, while the child waits before anything of the
 * program runs: its namespaces exist and it cannot have exited, so joining them through its
 * pidfd cannot fail with ESRCH however short-lived the program is (a program that had ended
 * before the runner got to its pidfd took its namespaces with it). The child is still
 * dumpable and ours then. Detached, the forwarder outlives us; the supervisor's on-exit
 * command (reap-main) stops it, and the next call's reclaim if the supervisor was killed.
 */
function forwarderStep(proxy: PortProxy, undo: (() => void | Promise<void>)[], holder: { child?: NsChild }, detach: boolean): Step {
  return { name: 'published ports', parent: [{ action: 'call', step: 'published ports', run: async ({ pidfd }) => {
    const child = holder.child = await forwardInside(pidfd, proxy.listeners(), PROXY_LIMITS, { detach });
    undo.unshift(() => stopForwarder(child));
  } }] };
}

/**
 * Claims the container's name. A file left by a runner that no longer lives (killed before its
 * cleanup), or one that is not a container's state, does not hold the name: it is removed
 * and the claim made again. (A container kept after its end, for `rm`, is not yet made.)
 */
function claimName(store: StateStore, state: ContainerState): void {
  try {
    store.claim(state);
  } catch (e) {
    if ((e as NsError).code !== 'EEXIST') throw e;
    let old: ContainerState | undefined;
    try {
      old = store.read(state.name);
    } catch (err) {
      // Not a container's state (claims are complete from the start): it holds no name.
      if ((err as NsError).code !== 'EINVAL') throw err;
    }
    // Running, being made, or kept after its end for `rm` (-d without --rm): the name is taken.
    if (old && (isAlive(old.runner) || ['running', 'created'].includes(liveStatus(old)) || (old.status === 'exited' && !old.autoRemove))) throw e;
    store.remove(state.name, old?.id);
    store.claim(state);
  }
}

/**
 * The container's own upper directory over the image's layers, owned by the container's root
 * as the host sees it. The name is ours (claimed): a root left under it by a runner that died
 * belongs to no living container and is removed first.
 */
function createImageRoot(plan: ContainerPlan): ContainerRoot {
  const image = plan.image!;
  const owner = plan.identity.mode === 'range' ? { uid: plan.identity.uidMap[0]!.outer, gid: plan.identity.gidMap[0]!.outer } : undefined;
  const options = { readOnly: !image.writableLayer, ...(owner ? { owner } : {}) };
  try {
    return image.store.createContainerRoot(image.id, plan.name, options);
  } catch (e) {
    if ((e as NsError).code !== 'EEXIST') throw e;
    image.store.removeContainerRoot(plan.name);
    return image.store.createContainerRoot(image.id, plan.name, options);
  }
}

/** Path of the on-exit command of a detached container's supervisor (reap-main.ts). */
const REAP_MAIN = join(__dirname, 'reap-main.js');

/**
 * A detached container's supervisor: what TypeScript would have removed at the end becomes
 * its cleanup words (the cgroup, deepest first; the id range and subnet leases), then reap-main records the
 * exit and removes the image root (and, with --rm, the state).
 */
function detachedSupervisor(store: StateStore, state: ContainerState, leases: readonly string[], cgroup: ContainerCgroup | undefined): SuperviseOptions {
  return {
    detach: true,
    cleanup: cgroupAndLeaseCleanup(leases, cgroup),
    onExit: [process.execPath, '--', REAP_MAIN, store.root, state.name, state.id!],
  };
}

/**
 * -t: a pty in the container's own devpts (so `tty` names /dev/pts/N inside), owned by the
 * program's ids, relayed to our stdout (and from our stdin with -i, raw while it runs) by the
 * supervisor, sized as our terminal and following it (SIGWINCH).
 */
function terminalSupervisor(input: boolean, plan: ContainerPlan): SuperviseOptions {
  return {
    session: true,
    terminal: {
      output: 1, ...(input ? { input: 0 } : {}), owner: { uid: plan.identity.uid, gid: plan.identity.gid },
      ...(process.stdout.isTTY ? { sizeFrom: 1 } : {}),
    },
  };
}

/**
 * -dt: the pty of a detached container, relayed by its supervisor into the log (its stdout),
 * so that `logs` shows what the program wrote to its terminal. Nothing is typed into it: there
 * is no `attach` yet to hand the terminal to, so -i adds nothing here.
 */
function detachedTerminal(plan: ContainerPlan): SuperviseOptions {
  return { session: true, terminal: { output: 1, owner: { uid: plan.identity.uid, gid: plan.identity.gid } } };
}

/**
 * The foreground container without Node: a holder process made with the user and network
 * steps (their maps, veth and loopback need the parent's work, which no process can do once
 * this one has become the exec stage) gives their namespaces, which the plan joins (on a
 * rootless network, its helper's instead: the network's veth is in that namespace); this
 * process then becomes the container's C supervisor in place (keeping ns-run's pid, which
 * the caller's shell waits for), and its program is unshared into the rest after a relay
 * fork (unshare(CLONE_NEWPID) puts only the next child in it: the init stays PID 1). At the
 * end the supervisor removes the cgroups and the id range and subnet leases, then records the
 * exit and removes the state itself (its `release` word), or, for an image root or a network's
 * lease, runs reap-main, which does that and removes those. Never returns.
 */
async function execContainer(plan: ContainerPlan, steps: readonly Step[], env: readonly string[], store: StateStore, initial: ContainerState,
                             host: { leases: readonly string[]; cgroup: ContainerCgroup | undefined; joined: readonly Namespace[] },
                             options: ContainerOptions): Promise<never> {
  const { leases, cgroup, joined } = host;
  // The cgroup's own step is the holder's; the container's first process joins by cgroupJoin instead.
  const ordered = joiningSteps(plan, [...cgroup ? [cgroupJoin(cgroup)] : [], ...steps.filter((s) => s !== cgroup?.step)]);
  store.update({ ...initial, status: 'running', startedAt: new Date().toISOString(), supervisor: initial.runner, inPlace: true, cgroups: cgroup?.payload ?? [] });
  const id = initial.id!;
  // A network's lease, or a rootless image root (its files of other subordinate ids may need to
  // stay recorded), is TypeScript's to remove: reap-main, a second Node. Every other end is C
  // words: root's image root (rmtree, as its store removes it), recording the exit and removing the state.
  const rootless = plan.identity.mode !== 'range';
  const reaps = (plan.image !== undefined && (rootless || plan.image.store.rootless)) || initial.attachment !== undefined;
  const imageRoot = plan.image && !reaps ? plan.image.store.containerRootTrees(plan.name).map((dir) => ({ rmtree: dir })) : [];
  const supervise: SuperviseOptions = {
    ...(options.terminal ? terminalSupervisor(options.terminal.input, plan) : {}),
    // The init dies of a signal only when killed from outside (SIGKILL): that is the
    // container's status, which docker reports as 128+N; the runner itself was not killed.
    signalAsCode: true,
    // Its first process starts in init's v2 directory (cgroupJoin joins the v1 ones).
    ...(cgroup?.initCgroup !== undefined ? { cgroup: cgroup.initCgroup } : {}),
    // A cgroup directory its words could not remove is named on our stderr (by reap-main, or by
    // the supervisor itself); a program's 0 then becomes 125, as a foreground run that is not in
    // place reports LeftoversError.
    ...(reaps
      ? { onExitReports: true, cleanup: cgroupAndLeaseCleanup(leases, cgroup), onExit: [process.execPath, '--', REAP_MAIN, store.root, plan.name, id] }
      : { reportLeftCgroups: 'ns-run',
          cleanup: [...cgroupAndLeaseCleanup(leases, cgroup), ...imageRoot,
            { release: { state: store.fileOf(plan.name), id, exitFile: store.exitFileOf(plan.name, id) } }] }),
  };
  return execInPlace(plan.argv, {
    steps: ordered.map(relaysDieWithParent), join: joined, env, cwd: plan.workdir, supervise, killWithParent: 'SIGKILL',
    programName: 'ns-run', exitCodes: { failure: 125, cannotExecute: 126, notFound: 127 },
  });
}

/**
 * The namespaces an in-place container joins, held by fds: a holder process made with the
 * user and network steps of `steps` (their maps, veth and loopback need the parent's work)
 * gives them, its user namespace first; on a rootless network, its helper's instead (the
 * network's veth is in that namespace), which may go once we hold them. The cgroup's make
 * step runs in the holder too: its parent action makes the directories (limits, owners), and
 * the container's relay moves itself into `init` (cgroupJoin).
 */
async function holdNamespaces(plan: ContainerPlan, steps: readonly Step[], cgroup: ContainerCgroup | undefined,
                              undo: (() => void | Promise<void>)[], rootlessNet: RootlessAttachment | undefined): Promise<Namespace[]> {
  // (A rootless network's helper made the user and network namespaces: their steps are not run.)
  const holds = (s: Step) => s === cgroup?.makeStep || (!rootlessNet && heldBy(plan)(s));
  // Without their cleanup, which would undo at the holder's end what the container keeps (the
  // veth goes with the network namespace, once the container's end has closed it); the
  // cgroup's is ours to run should the exec not happen.
  const held = steps.map((s) => (s === cgroup?.step ? cgroup.makeStep : s)).filter(holds).map(({ cleanup: _cleanup, ...s }) => s);
  if (cgroup) undo.unshift(() => cgroup.makeStep.cleanup?.(undefined, { execed: false }));
  // A rootless network's user and network namespaces were made by its helper (runContainer
  // dropped those steps): only a cgroup needs a holder then.
  const holder = rootlessNet && !held.length ? undefined : await spawn(['/bin/sleep', '1000'], { steps: held, stdio: 'ignore', killWithParent: 'SIGKILL' });
  let joined: Namespace[];
  try {
    joined = rootlessNet ? helperNamespaces(rootlessNet)
      : [Namespace.ofPid(holder!.pid, 'user'), ...(plan.network === 'host' ? [] : [Namespace.ofPid(holder!.pid, 'net')])];
  } finally {
    holder?.kill('SIGKILL');
    await holder?.exited;
  }
  undo.push(() => { for (const ns of joined) ns.close(); });
  // Held by our fds now, which the exec stage joins: the helper may go (it would once our
  // execve closed its stdin, perhaps before the stage had joined through its pidfd).
  await rootlessNet?.release();
  return joined;
}

/**
 * The user and network namespaces of a rootless network's helper, as fds: they keep the
 * namespaces whatever the helper does next. Its pid comes from the pidfd's fdinfo (proc(5));
 * the helper is our child and waits for its release, so that pid is not reused meanwhile.
 */
function helperNamespaces(rootlessNet: RootlessAttachment): Namespace[] {
  const pid = Number(/^Pid:\s*(-?\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${rootlessNet.pidfd}`, 'utf8'))?.[1]);
  if (!(pid > 0)) throw new NsError({ errno: 3, code: 'ESRCH', message: 'rootless network: its helper has exited before the container joined it' });
  const user = Namespace.ofPid(pid, 'user');
  try {
    return [user, Namespace.ofPid(pid, 'net')];
  } catch (e) {
    user.close();
    throw e;
  }
}

/** A supervisor's cleanup words: the cgroup directories, deepest first, then the leases (id range, subnet). */
function cgroupAndLeaseCleanup(leases: readonly string[], cgroup: ContainerCgroup | undefined): SuperviseCleanup[] {
  return [
    ...[...(cgroup?.all ?? [])].sort((a, b) => b.length - a.length).map((dir) => ({ rmcgroup: dir })),
    ...leases.map((lease) => ({ unlink: lease })),
  ];
}

/**
 * In place, the container's first process past the supervisor's fork is born in `init`'s v2
 * directory (the supervisor's `cgroup`) and moves itself into the v1 ones (ns-cgroup's
 * selfJoinOps) before it joins or unshares anything, while the host's cgroup tree is the one
 * it sees; the init and the program are born there, and the program moves on into `payload`
 * (cgroup.ts). The supervisor stays outside, so that it can remove the directories once they
 * are empty.
 */
function cgroupJoin(cgroup: ContainerCgroup): Step {
  return { name: 'ns-run cgroup', child: cgroup.initOps };
}

/** The steps a holder runs for a plan that joins its namespaces: the user and network ones (maps, veth, loopback). */
function heldBy(plan: ContainerPlan): (s: Step) => boolean {
  return (s) => s === plan.identity.userStep || (s.create ?? []).includes('net') || s.name === 'loopback';
}

/**
 * The steps of a plan whose user and network namespaces are joined rather than made (a
 * holder's, or a rootless network's helper's): those steps go, the other kinds are unshared
 * by the child after the joins, and a relay fork follows (unshare(CLONE_NEWPID) puts only the
 * next child in the new pid namespace: the init stays PID 1).
 */
function joiningSteps(plan: ContainerPlan, steps: readonly Step[]): Step[] {
  const holds = heldBy(plan);
  const rest = steps.filter((s) => !holds(s)).map((s) => ({ ...s, create: (s.create ?? []).filter((k) => k !== 'user' && k !== 'net') }));
  // A step that unshares in the child (createInChild) brings its own relay; every other plan gets one here.
  if (rest.some((s) => s.createInChild)) return rest;
  const relay: Step = { name: 'relay', createInChild: true, child: [
    { op: 'fork', init: false, forward: RELAYED_SIGNALS, privateMemory: true, phase: 'namespaces', step: 'relay' }] };
  // After the security step, whose first ops make the process root of the joined namespace:
  // the relay and the init then have the same ids, as kill(2) wants for the signals passed on.
  const security = rest.findIndex((s) => s.name === 'ns-run security');
  return [...rest.slice(0, security + 1), relay, ...rest.slice(security + 1)];
}

/**
 * PR_SET_PDEATHSIG is per process and cleared in a fork's child (prctl(2)): the process past
 * each relay fork (the container's init, PID 1 of its pid namespace) gets its own, so that a
 * SIGKILL of the supervisor takes the whole container down, level by level (the kernel sends
 * it to PID 1 too, as it comes from the parent namespace), instead of leaving it orphaned.
 */
function relaysDieWithParent(step: Step): Step {
  if (!step.child?.some(isRelayFork)) return step;
  return { ...step, child: step.child.flatMap((op) => (isRelayFork(op)
    ? [op, { op: 'prctl' as const, option: PR_SET_PDEATHSIG, args: [constants.signals.SIGKILL], phase: op.phase, step: op.step ?? step.name }]
    : [op])) };
}

function isRelayFork(op: NonNullable<Step['child']>[number]): boolean {
  return op.op === 'fork' && !op.init;
}

const PR_SET_PDEATHSIG = 1;

/** docker's ExitCode: the program's status, or 128+N when signal N ended it. */
export function dockerExitCode(status: ExitStatus): number {
  return status.signal ? 128 + (constants.signals[status.signal] ?? 0) : status.code ?? 0;
}

/** What `inspect` shows as Config and HostConfig, from the options as given. */
function inspectedConfig(plan: ContainerPlan, options: ContainerOptions): NonNullable<ContainerState['config']> {
  const str = (v: number | string | undefined) => (v === undefined ? {} : { value: String(v) });
  const memory = str(options.memory).value;
  const pidsLimit = str(options.pidsLimit).value;
  const cpus = str(options.cpus).value;
  return {
    hostname: plan.hostname, user: options.user ?? plan.image?.user ?? '',
    ...(plan.image ? { image: plan.image.reference, exposedPorts: Object.keys(plan.image.config.ExposedPorts ?? {}) } : {}),
    volumes: (plan.filesystem.volumes ?? []).map((v) => ({ source: v.source, dest: v.dest, readOnly: v.readOnly ?? false })),
    tmpfs: [...(plan.filesystem.tmpfs ?? [])], readOnly: plan.filesystem.readOnly ?? false,
    ...(memory !== undefined ? { memory } : {}), ...(pidsLimit !== undefined ? { pidsLimit } : {}), ...(cpus !== undefined ? { cpus } : {}),
    capAdd: [...(options.capAdd ?? [])], capDrop: [...(options.capDrop ?? [])],
    ...(plan.filesystem.shmSize !== undefined ? { shmSize: plan.filesystem.shmSize } : {}),
    usernsMode: plan.identity.usernsMode || (plan.identity.mode !== 'range' ? plan.identity.mode
      : `${options.usernsRange === undefined ? 'auto' : 'range'} ${[plan.identity.uidMap[0]!].map((r) => `${r.inner}:${r.outer}:${r.count}`)[0]}`),
  };
}

/** How long connections through published ports may finish after the container ended. */
const PROXY_DRAIN_MS = 2000;

/** A ref to a process that may already have exited (undefined then). */
function liveRef(pid: number): ProcessRef | undefined {
  try {
    return processRef(pid);
  } catch (e) {
    // The program ended between its exec and now: there is nothing left to enter.
    if ((e as NsError).code === 'ESRCH') return undefined;
    throw e;
  }
}

/** Runs every undo action, even after one fails, then reports the first failure. */
async function runAll(actions: (() => void | Promise<void>)[]): Promise<void> {
  let first: unknown;
  for (const action of actions.splice(0)) {
    try {
      await action();
    } catch (e) {
      first ??= e;
    }
  }
  if (first) throw first;
}
