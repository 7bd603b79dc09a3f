/**
 * `ns-run run IMAGE`: what an image of the store gives a container (docker run reference:
 * ENTRYPOINT, CMD, ENV, WORKDIR, USER, each overridden by run's options) and its root, an
 * overlay of the image's layers with an upper directory of the container's own.
 */
import type * as NsImage from 'ns-image';
import type { ContainerConfig, ImageStore } from 'ns-image';
import { layersView, resolveInRoot, type RootView } from './inroot';

/** Where `run` takes an image from. */
export interface ImageSource {
  readonly store: ImageStore;
  /** As the user typed it: a reference, or an image id (or its prefix). */
  readonly reference: string;
  /** --entrypoint: replaces the image's, and clears its Cmd ('' clears the entrypoint too). */
  readonly entrypoint?: string;
}

/** The image part of a container plan, decided before anything is created. */
export interface PlannedImage {
  readonly store: ImageStore;
  readonly id: string;
  readonly reference: string;
  readonly config: ContainerConfig;
  /** overlayfs lowerdir, topmost first. */
  readonly lower: readonly string[];
  /** The merged view of `lower`, for lookups before the overlay exists. */
  readonly view: RootView;
  /** The image's environment, PATH included (docker's default when the image has none). */
  readonly env: readonly string[];
  readonly args: readonly string[];
  readonly workdir: string;
  /** '' when the image names no user and -u was not given. */
  readonly user: string;
  /**
   * Whether the container gets an upper directory of its own: always but with --read-only,
   * and then too when the root lacks the working directory, which is made in that layer
   * before the root becomes read-only (docker's container layer always exists, and it makes
   * WorkingDir there first); otherwise chdir would fail with ENOENT.
   */
  readonly writableLayer: boolean;
}

export interface ImageOverrides {
  readonly command: readonly string[];
  readonly workdir?: string;
  readonly user?: string;
  readonly readOnly?: boolean;
}

/**
 * @throws NsError ENOIMAGE when the store has no such image; EUSAGE when the image and the
 *   options leave no command, or a relative working directory.
 */
export function planImage(source: ImageSource, overrides: ImageOverrides): PlannedImage {
  const details = source.store.inspect(source.reference);
  const proc = (require('ns-image') as typeof NsImage).resolveProcess(details.config, {
    command: overrides.command,
    ...(source.entrypoint !== undefined ? { entrypoint: source.entrypoint } : {}),
    ...(overrides.workdir !== undefined ? { workdir: overrides.workdir } : {}),
    ...(overrides.user !== undefined ? { user: overrides.user } : {}),
  });
  const writable = source.store.lowerDirs(details.layers);
  const view = layersView(writable);
  const writableLayer = !(overrides.readOnly ?? false) || resolveInRoot(view, proc.cwd, '--workdir').kind === undefined;
  // Read-only, overlayfs wants at least two lower directories (lowerDirs pads them).
  const lower = writableLayer ? writable : source.store.lowerDirs(details.layers, true);
  return {
    store: source.store, id: details.id, reference: source.reference, config: details.config, lower, view,
    env: proc.env, args: proc.args, workdir: proc.cwd, user: proc.user, writableLayer,
  };
}
