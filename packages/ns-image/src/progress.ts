/**
 * Progress of load and pull: events per layer, and a renderer that turns them into text the
 * way docker does: on a terminal one line per layer rewritten in place (bytes, total, rate),
 * otherwise one line per layer when it is done, nothing when quiet. Pure: the caller writes
 * the strings and supplies the clock.
 */

export type LayerPhase = 'exists' | 'start' | 'bytes' | 'done';

export interface LayerProgress {
  readonly kind: 'layer';
  /** A short, stable label: the first 12 hex digits of the blob's digest, or its archive member. */
  readonly layer: string;
  readonly phase: LayerPhase;
  /** Bytes read of the blob so far. */
  readonly bytes: number;
  /** The blob's size when known. */
  readonly total?: number;
}

export type ProgressEvent = LayerProgress;

export type ProgressCallback = (event: ProgressEvent) => void;

export interface RendererOptions {
  /** Rewrite lines in place (a terminal) or print one line per finished layer. */
  readonly tty: boolean;
  /** Print nothing (-q). */
  readonly quiet?: boolean;
  /** Milliseconds since some epoch; default Date.now. */
  readonly now?: () => number;
  /** Least time between two redraws for 'bytes' events on a terminal. Default 100 ms. */
  readonly intervalMs?: number;
}

interface LayerState {
  layer: string;
  phase: LayerPhase;
  bytes: number;
  total: number | undefined;
  started: number;
  ended: number | undefined;
}

/** docker's units.HumanSize: decimal units, three significant digits ("1.98MB"). */
export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? String(v) : Number(v.toPrecision(3)).toString()}${units[i]}`;
}

export class ProgressRenderer {
  private readonly layers = new Map<string, LayerState>();
  private drawn = 0;
  private lastDraw = -Infinity;
  private readonly now: () => number;
  private readonly interval: number;

  constructor(private readonly opts: RendererOptions) {
    this.now = opts.now ?? Date.now;
    this.interval = opts.intervalMs ?? 100;
  }

  /** The text to write for this event ('' for nothing). */
  update(event: ProgressEvent): string {
    if (this.opts.quiet) return '';
    const t = this.now();
    let state = this.layers.get(event.layer);
    if (!state) {
      state = { layer: event.layer, phase: event.phase, bytes: 0, total: undefined, started: t, ended: undefined };
      this.layers.set(event.layer, state);
    }
    const changed = state.phase !== event.phase;
    state.phase = event.phase;
    state.bytes = event.bytes;
    if (event.total !== undefined) state.total = event.total;
    if (event.phase === 'start') state.started = t;
    if (event.phase === 'done' || event.phase === 'exists') state.ended = t;
    if (!this.opts.tty) {
      return event.phase === 'done' || event.phase === 'exists' ? `${this.line(state)}\n` : '';
    }
    if (!changed && event.phase === 'bytes' && t - this.lastDraw < this.interval) return '';
    return this.redraw(t);
  }

  /** What to write at the end: the final state of every line on a terminal. */
  finish(): string {
    if (this.opts.quiet || !this.opts.tty || this.layers.size === 0) return '';
    return this.redraw(this.now());
  }

  /** One layer's line: "0123456789ab: Downloading 12.3MB/50MB 4.1MB/s". */
  line(s: LayerState): string {
    const label = `${s.layer}:`;
    switch (s.phase) {
      case 'exists':
        return `${label} Already exists`;
      case 'done': {
        const secs = Math.max(((s.ended ?? s.started) - s.started) / 1000, 0);
        return `${label} Done ${formatBytes(s.bytes)} in ${secs.toFixed(1)}s`;
      }
      default: {
        const secs = (this.now() - s.started) / 1000;
        const rate = secs > 0 ? ` ${formatBytes(Math.round(s.bytes / secs))}/s` : '';
        const of = s.total !== undefined ? `/${formatBytes(s.total)}` : '';
        return `${label} ${s.phase === 'start' ? 'Waiting' : 'Receiving'} ${formatBytes(s.bytes)}${of}${rate}`;
      }
    }
  }

  /** Moves up over what was drawn before and rewrites every line (ESC[nA, ESC[2K). */
  private redraw(t: number): string {
    this.lastDraw = t;
    let out = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    for (const s of this.layers.values()) out += `\x1b[2K${this.line(s)}\n`;
    this.drawn = this.layers.size;
    return out;
  }
}
