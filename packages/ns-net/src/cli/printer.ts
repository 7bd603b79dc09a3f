/**
 * One pass, two outputs: iproute2 prints every field through calls that write either text
 * (with a printf format) or a JSON member (with a key), depending on -j (lib/json_print.c).
 * Printing the same way is what makes both byte-identical to ip's: the order of JSON members,
 * the spaces in text, "[ " and "    " under -p, all follow from the same sequence of calls.
 */

/** Where a field goes: both outputs, only JSON, or only text (PRINT_ANY, PRINT_JSON, PRINT_FP). */
export type Out = 'any' | 'json' | 'fp';

const DIRECTIVE = /%([-#0 +]*)(\d+)?(?:\.(\d+))?(hh|h|ll|l|z)?([sdiuxXgc%])/g;

/**
 * printf(3) for the formats ip uses: one value per directive (%s %d %u %x %#x %02x %-16s %llu
 * %g %%), with flags, width and precision. Missing values print as C would print NULL for %s
 * ("(null)") and 0 for numbers, which ip never relies on.
 */
export function cfmt(fmt: string, ...values: unknown[]): string {
  let i = 0;
  return fmt.replace(DIRECTIVE, (_m, flags: string, width: string | undefined, prec: string | undefined, _len, conv: string) => {
    if (conv === '%') return '%';
    const v = values[i++];
    let body: string;
    let prefix = '';
    switch (conv) {
      case 's':
        body = v === null || v === undefined ? '(null)' : String(v);
        if (prec !== undefined) body = body.slice(0, Number(prec));
        break;
      case 'c':
        body = typeof v === 'number' ? String.fromCharCode(v) : String(v);
        break;
      case 'g':
        body = formatG(Number(v));
        break;
      default: {
        const n = typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v ?? 0)));
        const neg = n < 0n && conv !== 'u' && conv !== 'x' && conv !== 'X';
        const abs = neg ? -n : n;
        body = conv === 'x' ? abs.toString(16) : conv === 'X' ? abs.toString(16).toUpperCase() : abs.toString();
        if (prec !== undefined) body = body.padStart(Number(prec), '0');
        if ((conv === 'x' || conv === 'X') && flags.includes('#') && abs !== 0n) prefix = conv === 'x' ? '0x' : '0X';
        if (neg) prefix = `-${prefix}`;
        else if (flags.includes('+')) prefix = `+${prefix}`;
      }
    }
    let out = prefix + body;
    const w = width !== undefined ? Number(width) : 0;
    if (out.length < w) {
      if (flags.includes('-')) out = out.padEnd(w);
      else if (flags.includes('0') && conv !== 's' && prec === undefined) out = prefix + body.padStart(w - prefix.length, '0');
      else out = out.padStart(w);
    }
    return out;
  });
}

/** %g: six significant digits, no trailing zeros (enough for the seconds ip prints with it). */
function formatG(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (n === 0) return '0';
  const exp = Math.floor(Math.log10(Math.abs(n)));
  if (exp < -4 || exp >= 6) {
    const [m, e] = n.toExponential(5).split('e');
    const mant = m!.replace(/\.?0+$/, '');
    const ev = Number(e);
    return `${mant}e${ev < 0 ? '-' : '+'}${String(Math.abs(ev)).padStart(2, '0')}`;
  }
  return Number(n.toPrecision(6)).toString();
}

/** lib/json_writer.c: separators, and with pretty printing four spaces a level. */
class JsonWriter {
  #depth = 0;
  #sep = '';
  readonly #pretty: boolean;
  readonly #write: (s: string) => void;

  constructor(pretty: boolean, write: (s: string) => void) {
    this.#pretty = pretty;
    this.#write = write;
  }

  #eol(): void {
    if (this.#pretty) this.#write(`\n${'    '.repeat(this.#depth)}`);
  }

  #eor(): void {
    if (this.#sep) this.#write(this.#sep);
    this.#sep = ',';
  }

  name(key: string): void {
    this.#eor();
    this.#eol();
    this.#sep = '';
    this.#write(`${quote(key)}:${this.#pretty ? ' ' : ''}`);
  }

  raw(text: string): void {
    this.#eor();
    this.#write(text);
  }

  string(value: string): void {
    this.raw(quote(value));
  }

  startObject(): void {
    this.#eor();
    this.#write('{');
    this.#depth++;
    this.#sep = '';
  }

  endObject(): void {
    this.#end('}');
  }

  startArray(): void {
    this.#eor();
    this.#write('[');
    this.#depth++;
    this.#sep = '';
    if (this.#pretty) this.#write(' ');
  }

  endArray(): void {
    if (this.#pretty && this.#sep) this.#write(' ');
    this.#sep = '';
    this.#end(']');
  }

  #end(c: string): void {
    this.#depth--;
    if (this.#sep) this.#eol();
    this.#write(c);
    this.#sep = ',';
  }
}

/** jsonw_puts(): only these characters are escaped; everything else passes as bytes. */
function quote(s: string): string {
  let out = '"';
  for (const ch of s) {
    switch (ch) {
      case '\t': out += '\\t'; break;
      case '\n': out += '\\n'; break;
      case '\r': out += '\\r'; break;
      case '\f': out += '\\f'; break;
      case '\b': out += '\\b'; break;
      case '\\': out += '\\\\'; break;
      case '"': out += '\\"'; break;
      default: out += ch;
    }
  }
  return `${out}"`;
}

/**
 * The printing context of one command: text, or JSON between newJsonObj() and deleteJsonObj()
 * (as in ip, outside that window even -j prints text). Output accumulates until take().
 */
export class Printer {
  readonly json: boolean;
  readonly pretty: boolean;
  /** "\n", or "\\" with -oneline (ip's _SL_). */
  readonly sl: string;
  #jw: JsonWriter | null = null;
  #chunks: string[] = [];

  constructor(options: { json?: boolean; pretty?: boolean; oneline?: boolean } = {}) {
    this.json = options.json ?? false;
    this.pretty = options.pretty ?? false;
    this.sl = options.oneline ? '\\' : '\n';
  }

  readonly write = (s: string): void => {
    this.#chunks.push(s);
  };

  /** Everything printed so far (and forget it). */
  take(): string {
    const s = this.#chunks.join('');
    this.#chunks = [];
    return s;
  }

  get isJson(): boolean {
    return this.#jw !== null;
  }

  #toJson(t: Out): boolean {
    return this.#jw !== null && t !== 'fp';
  }

  #toText(t: Out): boolean {
    return this.#jw === null && t !== 'json';
  }

  /** new_json_obj(): with -j, start the JSON document (an array unless `plain`). */
  newJsonObj(plain = false): void {
    if (!this.json) return;
    this.#jw = new JsonWriter(this.pretty, this.write);
    if (!plain) this.#jw.startArray();
  }

  /** delete_json_obj(): end the document with its newline. */
  deleteJsonObj(plain = false): void {
    if (!this.#jw) return;
    if (!plain) this.#jw.endArray();
    this.write('\n');
    this.#jw = null;
  }

  openObject(key: string | null = null): void {
    if (!this.#jw) return;
    if (key !== null) this.#jw.name(key);
    this.#jw.startObject();
  }

  closeObject(): void {
    this.#jw?.endObject();
  }

  /** open_json_array(): a JSON array under `key`, or the text `text`. */
  openArray(t: Out, key: string | null, text = ''): void {
    if (this.#toJson(t)) {
      if (key !== null) this.#jw!.name(key);
      this.#jw!.startArray();
    } else if (this.#toText(t)) {
      this.write(text);
    }
  }

  closeArray(t: Out, text = ''): void {
    if (this.#toJson(t)) this.#jw!.endArray();
    else if (this.#toText(t)) this.write(text);
  }

  /** print_string(); a null key inside an array prints a bare value, a null value only the name. */
  string(t: Out, key: string | null, fmt: string | null, value: string | null): void {
    if (this.#toJson(t)) {
      if (key !== null && value === null) this.#jw!.name(key);
      else if (key === null && value !== null) this.#jw!.string(value);
      else if (key !== null && value !== null) {
        this.#jw!.name(key);
        this.#jw!.string(value);
      }
    } else if (this.#toText(t) && fmt !== null) {
      this.write(cfmt(fmt, value));
    }
  }

  /** print_int()/print_uint()/print_u64()...: decimal in JSON, `fmt` in text. */
  number(t: Out, key: string | null, fmt: string | null, value: number | bigint): void {
    if (this.#toJson(t)) {
      if (key !== null) this.#jw!.name(key);
      this.#jw!.raw(String(value));
    } else if (this.#toText(t) && fmt !== null) {
      this.write(cfmt(fmt, value));
    }
  }

  /** print_bool(): true/false in JSON, `fmt` with "true"/"false" in text. */
  bool(t: Out, key: string | null, fmt: string | null, value: boolean): void {
    this.#boolLike(t, key, fmt, value, value ? 'true' : 'false');
  }

  /** print_on_off(): true/false in JSON, "on"/"off" in text. */
  onOff(t: Out, key: string | null, fmt: string | null, value: boolean): void {
    this.#boolLike(t, key, fmt, value, value ? 'on' : 'off');
  }

  #boolLike(t: Out, key: string | null, fmt: string | null, value: boolean, text: string): void {
    if (this.#toJson(t)) {
      if (key !== null) this.#jw!.name(key);
      this.#jw!.raw(value ? 'true' : 'false');
    } else if (this.#toText(t) && fmt !== null) {
      this.write(cfmt(fmt, text));
    }
  }

  /** print_null(): null in JSON. */
  null(t: Out, key: string | null, fmt: string | null, value: string | null = null): void {
    if (this.#toJson(t)) {
      if (key !== null) this.#jw!.name(key);
      this.#jw!.raw('null');
    } else if (this.#toText(t) && fmt !== null) {
      this.write(cfmt(fmt, value));
    }
  }

  /** print_0xhex(): a "0x.." string in JSON, `fmt` in text. */
  hex0x(t: Out, key: string | null, fmt: string | null, value: number | bigint): void {
    if (this.#toJson(t)) this.string('json', key, null, cfmt('%#llx', value));
    else if (this.#toText(t) && fmt !== null) this.write(cfmt(fmt, value));
  }

  /** print_hex(): bare hex digits as a JSON string. */
  hex(t: Out, key: string | null, fmt: string | null, value: number): void {
    if (this.#toJson(t)) {
      if (key !== null) this.#jw!.name(key);
      this.#jw!.string(value.toString(16));
    } else if (this.#toText(t) && fmt !== null) {
      this.write(cfmt(fmt, value));
    }
  }

  /** jsonw_name() + jsonw_printf(): a member whose value is written as is (bridge timers). */
  jsonRaw(key: string, text: string): void {
    if (!this.#jw) return;
    this.#jw.name(key);
    this.#jw.raw(text);
  }

  /** Text only (fprintf to stdout): nothing under -j. */
  text(s: string): void {
    if (!this.#jw) this.write(s);
  }

  /** print_nl(): the line separator, in text only. */
  nl(): void {
    if (!this.#jw) this.write(this.sl);
  }
}
