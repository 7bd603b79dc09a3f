/** What holds a resource (an fd, a socket) until it is closed. */
export interface Closeable {
  close(): void;
}

/** Runs fn with the handle and closes the handle afterwards, however fn ends: the scope of a handle's `use`. */
export function withHandle<H extends Closeable, T>(handle: H, fn: (h: H) => T): T {
  try {
    return fn(handle);
  } finally {
    handle.close();
  }
}
