/**
 * Upload limits and lifetime, from the Worker's bindings (see `src/env.ts`).
 */
import { positiveIntegerBinding, type Bindings } from '../../env.ts';

export interface UploadSettings {
  /** Seconds an upload stays staged (and its status readable). */
  ttlSeconds: number;
  /** Largest accepted body, in bytes. */
  maxBytes: number;
  /** Most data rows in one upload. */
  maxRows: number;
}

/** The bindings' values, or the defaults: one hour, 50 MiB, 200,000 rows. */
export function uploadSettings(env: Bindings): UploadSettings {
  return {
    ttlSeconds: positiveIntegerBinding(env.UPLOAD_TTL_SECONDS, 3600),
    maxBytes: positiveIntegerBinding(env.UPLOAD_MAX_BYTES, 50 * 1024 * 1024),
    maxRows: positiveIntegerBinding(env.UPLOAD_MAX_ROWS, 200_000),
  };
}
