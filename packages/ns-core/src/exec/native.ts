import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NsError } from '../errors';
import { koffi } from '../sys/native';

/** Where `npm ci` (ns-core's install script) puts the compiled exec stage. */
export const EXEC_STAGE_PATH = process.env['NSX_EXEC_STAGE'] ?? join(__dirname, '../../../build/libnsexec.so');

interface ExecStage {
  spawn(plan: Buffer, len: number, out: Int32Array): number;
  release(pid: number): number;
  liveRegions(): number;
  decode(plan: Buffer, len: number, out: Buffer, badOffset: Buffer): number;
}

let stage: ExecStage | undefined;

export function execStage(): ExecStage {
  if (stage) return stage;
  if (!existsSync(EXEC_STAGE_PATH)) {
    throw new NsError({
      errno: 0, code: 'ENOEXECSTAGE', path: EXEC_STAGE_PATH,
      message: `the exec stage is not built (${EXEC_STAGE_PATH} is missing)`,
      hint: 'run `npm ci` (or `npm run install -w ns-core`) with a C compiler installed',
    });
  }
  const lib = koffi.load(EXEC_STAGE_PATH);
  stage = {
    spawn: lib.func('int nsx_spawn(const uint8_t *plan, uint32_t len, int32_t *out)'),
    release: lib.func('int nsx_release(int32_t pid)'),
    liveRegions: lib.func('int nsx_live_regions(void)'),
    decode: lib.func('int nsx_decode(const uint8_t *plan, size_t len, void *out, void *bad)'),
  } as unknown as ExecStage;
  return stage;
}
