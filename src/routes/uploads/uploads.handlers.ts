import type { RouteHandler } from '@hono/zod-openapi';
import { commitUpload as commitStaged, recordedUpload, type BulkDatabase, type UploadStatus } from '../../domain/uploads/commit.ts';
import { csvRecords } from '../../domain/uploads/csv.ts';
import { UPLOAD_KINDS, UPLOAD_TYPES, type UploadType } from '../../domain/uploads/kinds.ts';
import { stageUpload } from '../../domain/uploads/stage.ts';
import { deleteUpload as deleteStaged, readMeta } from '../../domain/uploads/staging.ts';
import type { Context } from 'hono';
import type { AppEnv } from '../../env.ts';
import { Problem } from '../../platform/problem.ts';
import { drainRefusedBody } from '../../platform/validation.ts';
import type * as routes from './uploads.routes.ts';

/**
 * A commit is one statement over up to ~150,000 rows (with their foreign-key checks): it needs
 * longer than one ordinary round trip's timeout — in proportion to its size, so a frozen
 * database is noticed as fast for 50 rows as for any other request. Its round trips still
 * count in `Server-Timing`.
 */
const MAX_COMMIT_TIMEOUT_MS = 60_000;
/** Allowance per MiB staged, over the ordinary timeout (100,000 rows, ~5 MiB, commit in 5–8 s here). */
const COMMIT_MS_PER_MIB = 3_000;

/** The commit's timeout for `stagedBytes`: the ordinary one plus {@link COMMIT_MS_PER_MIB}, at most {@link MAX_COMMIT_TIMEOUT_MS}. */
export function commitTimeoutMs(baseMs: number, stagedBytes: number): number {
  return Math.max(baseMs, Math.min(MAX_COMMIT_TIMEOUT_MS, baseMs + Math.ceil((stagedBytes / (1024 * 1024)) * COMMIT_MS_PER_MIB)));
}

function bulkDatabase(c: Context<AppEnv>): BulkDatabase {
  const { db, config } = c.var.services;
  return { primary: db.primary, forBytes: (bytes) => db.withTimeout(commitTimeoutMs(config.database.timeoutMs, bytes)) };
}

const notFound = (id: string) => new Problem('not-found', `There is no upload "${id}" (uploads are forgotten when they expire).`);

/** The upload as the API shows it (without staging internals). */
function toStatus(upload: UploadStatus) {
  if (!('chunks' in upload)) return upload;
  const { chunks: _chunks, ...status } = upload;
  return status;
}

function missingType(): Problem {
  return new Problem('validation-failed', 'Say what the rows are: ?type=trainer or ?type=pokemon.', {
    errors: [{ parameter: 'type', detail: 'type is required: trainer or pokemon.' }],
  });
}

/**
 * The CSV bytes and the upload type, from a `text/csv` body (streamed) or from the original
 * system's `multipart/form-data` form (fields `type` and `data`; the runtime buffers a form).
 */
async function readUploadBody(request: Request, queryType: UploadType | undefined, maxBytes: number) {
  const declared = Number(request.headers.get('Content-Length'));
  if (declared > maxBytes) throw new Problem('payload-too-large', `The file is larger than ${maxBytes} bytes.`, { maxBytes });
  const contentType = (request.headers.get('Content-Type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (contentType === 'text/csv') {
    if (!queryType) throw missingType();
    return { type: queryType, body: request.body ?? new Blob([]).stream() };
  }
  if (contentType === 'multipart/form-data') {
    const form = await request.formData().catch(() => {
      throw new Problem('malformed-request', 'The multipart/form-data body could not be read.');
    });
    const formType = form.get('type') ?? queryType;
    if (!formType) throw missingType();
    if (!UPLOAD_TYPES.includes(formType as UploadType)) {
      throw new Problem('validation-failed', 'The form field "type" must be trainer or pokemon.', {
        errors: [{ pointer: '/type', detail: 'type must be trainer or pokemon.' }],
      });
    }
    const data = form.get('data');
    if (data === null) {
      throw new Problem('validation-failed', 'The form has no "data" field (the CSV file).', { errors: [{ pointer: '/data', detail: 'data is required: the CSV file.' }] });
    }
    return { type: formType as UploadType, body: (typeof data === 'string' ? new Blob([data]) : data).stream() };
  }
  throw new Problem('unsupported-media-type', `Send the CSV as text/csv (or a multipart/form-data form)${contentType ? `, not ${contentType}` : ''}.`);
}

export const createUpload: RouteHandler<typeof routes.createUpload, AppEnv> = async (c) => {
  const query = c.req.valid('query');
  const settings = c.var.services.config.uploads;
  const { type, body } = await readUploadBody(c.req.raw, query.type, settings.maxBytes);
  const { meta, preview } = await stageUpload(c.var.services.db.primary, c.var.services.redis, {
    kind: UPLOAD_KINDS[type],
    onConflict: query.onConflict,
    records: csvRecords(body, settings.maxBytes),
    settings,
    // Keys share Redis fairly; the bootstrap admin key (operators, benchmarks) has no quota.
    quota: c.var.principal?.rateLimit && { subject: c.var.principal.id, maxBytes: settings.quotaBytes, windowSeconds: settings.ttlSeconds },
  }).catch(async (error: unknown) => {
    // Refused mid-body (413, not UTF-8, too many errors): read the rest before answering.
    if (!body.locked) await drainRefusedBody(body.getReader());
    throw error;
  });
  const upload = query.commit === 'true' ? await commitStaged(bulkDatabase(c), c.var.services.redis, meta.id) : meta;
  return c.json({ ...toStatus(upload), preview }, 201, { Location: `/uploads/${upload.id}` });
};

export const getUpload: RouteHandler<typeof routes.getUpload, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  // Redis forgot it (expired, evicted, lost): a committed upload is still on record in the database.
  const upload = (await readMeta(c.var.services.redis, id)) ?? (await recordedUpload(c.var.services.db.primary, id));
  if (!upload) throw notFound(id);
  return c.json(toStatus(upload), 200);
};

export const commitUpload: RouteHandler<typeof routes.commitUpload, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const meta = await commitStaged(bulkDatabase(c), c.var.services.redis, id);
  return c.json({ ...toStatus(meta), status: 'committed' as const, inserted: meta.inserted ?? 0, updated: meta.updated ?? 0 }, 200);
};

export const deleteUpload: RouteHandler<typeof routes.deleteUpload, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  if (!(await deleteStaged(c.var.services.redis, id))) throw notFound(id);
  return c.body(null, 204);
};
