/** Size caps on what load and pull accept: past any of them the input is refused, not stored. */
export interface Limits {
  /** A manifest, index, index.json or manifest.json. containerd's cap: 4 MiB. */
  readonly manifestBytes: number;
  /** An image config. */
  readonly configBytes: number;
  /** One layer's tar, uncompressed: the bound on a decompression bomb. */
  readonly layerBytes: number;
  /** One layer blob as transferred. */
  readonly blobBytes: number;
  /** Entries in one layer. */
  readonly layerEntries: number;
  /** Members of an archive. */
  readonly archiveMembers: number;
  /** Layers of one image: overlayfs stacks at most 500 (OVL_MAX_STACK). */
  readonly layers: number;
}

export const DEFAULT_LIMITS: Limits = {
  manifestBytes: 4 << 20,
  configBytes: 16 << 20,
  layerBytes: 64 * 2 ** 30,
  blobBytes: 64 * 2 ** 30,
  layerEntries: 4_000_000,
  archiveMembers: 1_000_000,
  layers: 500,
};

export function limitsOf(partial: Partial<Limits> | undefined): Limits {
  return { ...DEFAULT_LIMITS, ...(partial ?? {}) };
}
