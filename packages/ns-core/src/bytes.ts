/**
 * Arguments, environment entries and paths are bytes to the kernel, not text: `ls $'\xff'`
 * names a file whose name is not UTF-8. Node decodes argv and environ as UTF-8 and turns every
 * invalid byte into U+FFFD, so a program's arguments or a path would change on the way through.
 * nstools keeps such words as strings that map back to the same bytes: valid UTF-8 decodes as
 * usual, and each byte that is not part of valid UTF-8 becomes a lone surrogate U+DC80+byte
 * (the "surrogateescape" of PEP 383). A lone surrogate never comes from decoding valid UTF-8,
 * so the mapping is exact both ways; ordinary text is unchanged.
 */
import { isUtf8 } from 'node:buffer';
import { readFileSync, writeSync } from 'node:fs';

const ESCAPE_BASE = 0xdc00;
const fatal = new TextDecoder('utf-8', { fatal: true });

/** Length of the valid UTF-8 sequence starting at i (RFC 3629: no overlongs or surrogates), or 0. */
function sequenceLength(b: Uint8Array, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const cont = (k: number) => i + k < b.length && (b[i + k]! & 0xc0) === 0x80;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    const c1 = b[i + 1]!;
    if ((c === 0xe0 && c1 < 0xa0) || (c === 0xed && c1 > 0x9f)) return 0;
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const c1 = b[i + 1]!;
    if ((c === 0xf0 && c1 < 0x90) || (c === 0xf4 && c1 > 0x8f)) return 0;
    return 4;
  }
  return 0;
}

/** Bytes as a string that encodeText() turns back into the same bytes. */
export function decodeBytes(bytes: Uint8Array): string {
  try {
    return fatal.decode(bytes);
  } catch {
    // Not valid UTF-8: decode sequence by sequence, escaping the bytes that fit none.
  }
  let out = '';
  for (let i = 0; i < bytes.length;) {
    const n = sequenceLength(bytes, i);
    if (n === 0) {
      out += String.fromCharCode(ESCAPE_BASE + bytes[i]!);
      i++;
    } else {
      out += Buffer.from(bytes.subarray(i, i + n)).toString('utf8');
      i += n;
    }
  }
  return out;
}

/** Whether a string holds escaped bytes (lone surrogates U+DC80..U+DCFF). */
export function hasEscapedBytes(text: string): boolean {
  // A well-formed string (no lone surrogate: nearly every one) holds none, by one native check
  // (ES2024's isWellFormed, in every Node we run on) instead of the lookbehind's scan: each
  // argument and environment entry of a plan is asked this at every start.
  return !(text as string & { isWellFormed(): boolean }).isWellFormed() && /(?<![\ud800-\udbff])[\udc80-\udcff]/.test(text);
}

/** The bytes a string stands for: UTF-8, with escaped bytes restored. */
export function encodeText(text: string): Buffer {
  if (!hasEscapedBytes(text)) return Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  let run = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const high = i > 0 && text.charCodeAt(i - 1) >= 0xd800 && text.charCodeAt(i - 1) <= 0xdbff;
    if (c >= 0xdc80 && c <= 0xdcff && !high) {
      if (run) parts.push(Buffer.from(run, 'utf8'));
      run = '';
      parts.push(Buffer.from([c - ESCAPE_BASE]));
    } else {
      run += text[i];
    }
  }
  if (run) parts.push(Buffer.from(run, 'utf8'));
  return Buffer.concat(parts);
}

/** A path for node:fs: the string itself, or its bytes when it holds escaped ones. */
export function fsPath(path: string): string | Buffer {
  return hasEscapedBytes(path) ? encodeText(path) : path;
}

/**
 * NUL-separated bytes (cmdline, environ) as words, and whether all of them were valid UTF-8
 * (each word then decodes as plain text, with no escaped bytes). Valid UTF-8, as it nearly
 * always is, takes one check and one decoding of the whole: word by word, the decoder's calls
 * were most of ns-unshare's reading of its environment at every start. A word that starts with
 * a byte order mark takes the word-by-word path too, whose decoder drops it.
 */
function splitNul(data: Buffer): { words: string[]; utf8: boolean } {
  if (isUtf8(data)) {
    const text = data.toString('utf8');
    if (!text.includes('\ufeff')) {
      const words = text.split('\0');
      if (words[words.length - 1] === '') words.pop(); // the final NUL ends the last word
      return { words, utf8: true };
    }
  }
  const words: string[] = [];
  let start = 0;
  // indexOf, not a loop over each byte: this runs at every CLI start, before V8 optimises anything.
  for (let end; (end = data.indexOf(0, start)) !== -1; start = end + 1) words.push(decodeBytes(data.subarray(start, end)));
  if (start < data.length) words.push(decodeBytes(data.subarray(start)));
  return { words, utf8: false };
}

/**
 * The script's arguments as the kernel passed them (/proc/self/cmdline), where process.argv
 * has already lost any byte that is not UTF-8. Node's own words come first there; the script's
 * are the last process.argv.length - 2, whatever options Node was started with.
 */
export function scriptArguments(): string[] {
  const count = Math.max(0, process.argv.length - 2);
  let words: string[];
  try {
    words = splitNul(readFileSync('/proc/self/cmdline')).words;
  } catch {
    return process.argv.slice(2); // no /proc: the best Node has
  }
  // A process that rewrote its argv area (process.title) no longer matches: trust Node then.
  if (words.length < count + 1) return process.argv.slice(2);
  return words.slice(words.length - count);
}

/** The environment as the kernel passed it, as 'K=V' words (bytes kept). */
export function environBytes(): string[] {
  return environWords().words;
}

function environWords(): { words: string[]; utf8: boolean } {
  try {
    return splitNul(readFileSync('/proc/self/environ'));
  } catch {
    return { words: Object.entries(process.env).map(([k, v]) => `${k}=${v}`), utf8: false };
  }
}

/**
 * The environment a program should inherit from this process: environ as the kernel passed it
 * (bytes kept), with what this process changed since applied from `env` (process.env): an entry
 * removed there is dropped, one set to another value takes that value, a new one is added. An
 * entry Node decoded with U+FFFD for bytes that are not UTF-8 is unchanged if `env` still holds
 * that decoding, so its original bytes pass on; a name that is not UTF-8 (which Node leaves out
 * of process.env) passes on as it came.
 */
export function inheritedEnvironment(env: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const { words, utf8 } = environWords();
  // What Node made of an entry's bytes; the entry itself when they were all valid UTF-8.
  const lossy = utf8 ? (s: string) => s : (s: string) => encodeText(s).toString('utf8');
  for (const entry of words) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const raw = entry.slice(0, eq);
    const key = lossy(raw);
    if (seen.has(key)) continue; // getenv(3) and Node take the first of duplicates
    seen.add(key);
    // Node hides a name that is not UTF-8 from process.env altogether: nobody here could have changed it.
    if (!utf8 && hasEscapedBytes(raw) && !(key in env)) {
      out.push(entry);
      continue;
    }
    const now = env[key];
    if (now === undefined) continue;
    out.push(now === lossy(entry.slice(eq + 1)) ? entry : `${key}=${now}`);
  }
  for (const [key, value] of Object.entries(env)) if (value !== undefined && !seen.has(key)) out.push(`${key}=${value}`);
  return out;
}

/**
 * Writes all of text to fd as the bytes it stands for, by write(2) itself: process.stdout and
 * process.stderr build a stream (a net.Socket on a pipe) whose modules cost a CLI more than its
 * own work, and what they hold may still be unwritten at process.exit. A pipe another process
 * left non-blocking may take the bytes in parts: EAGAIN is tried again, nothing is dropped.
 */
export function writeAll(fd: number, text: string): void {
  const bytes = encodeText(text);
  for (let done = 0; done < bytes.length;) {
    try {
      done += writeSync(fd, bytes, done);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    }
  }
}
