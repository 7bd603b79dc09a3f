/**
 * Numbers as util-linux reads them from the command line (strtoul_or_err and friends): base
 * 10, leading white space and a '+' allowed (strtoul(3) skips and accepts them), nothing after
 * the digits. So `-S ' 7'` and `-t +3` mean what they mean to nsenter and unshare. A leading
 * '-', which strtoul wraps around to a huge value (-1 becomes 4294967295), is refused instead.
 */
const DECIMAL = /^[ \t\n\v\f\r]*\+?(\d+)$/;

/** The value of a util-linux style unsigned decimal, or undefined if it is not one. */
export function parseDecimal(text: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const m = DECIMAL.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) && n <= max ? n : undefined;
}
