import type { RouteHandler } from '@hono/zod-openapi';
import { commitUpload as commitStaged, recordedUpload, type BulkDatabase, type UploadStatus } from '../../domain/uploads/commit.ts';
import { csvRecords } from '../../domain/uploads/csv.ts';
import { UPLOAD_KINDS, UPLOAD_TYPES, type UploadType } from '../../domain/uploads/kinds.ts';
import { appendPiece, createResumable, type AppendResult } from '../../domain/uploads/resumable.ts';
import { stageUpload, type StagedUpload } from '../../domain/uploads/stage.ts';
import { deleteUpload as deleteStaged, readMeta, type UploadMeta } from '../../domain/uploads/staging.ts';
import type { Context } from 'hono';
import type { AppEnv } from '../../env.ts';
import { Problem } from '../../platform/problem.ts';
import { drainRefusedBody, invalid } from '../../platform/validation.ts';
import type * as routes from './uploads.routes.ts';

/**
 * A commit is one statement over up to ~150,000 rows (with their foreign-key checks): it needs
 * longer than one ordinary round trip's timeout — in proportion to its size, so a frozen
 * database is noticed as fast for 50 rows as for any other request. Its round trips still
 * count in `Server-Timing`.
 */
const MAX_COMMIT_TIMEOUT_MS = 300_000;
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

/** The caller's staging quota: keys share Redis fairly; the bootstrap admin key (operators, benchmarks) has none. */
function stagingQuota(c: Context<AppEnv>) {
  const settings = c.var.services.config.uploads;
  return c.var.principal?.rateLimit && { subject: c.var.principal.id, maxBytes: settings.quotaBytes, windowSeconds: settings.ttlSeconds };
}

/** A structured-field boolean header (`?0`, `?1`), or `undefined` when absent; 422 otherwise. */
function booleanHeader(c: Context<AppEnv>, name: string): boolean | undefined {
  const value = c.req.header(name)?.trim();
  if (value === undefined) return undefined;
  if (value === '?1' || value === '?0') return value === '?1';
  throw invalid([{ parameter: name, detail: `${name} must be ?0 or ?1 (a structured-field boolean), not "${value}".` }], 'header');
}

/** `Upload-Offset`: a structured-field integer; 422 when missing or malformed. */
function offsetHeader(c: Context<AppEnv>): number {
  const value = c.req.header('Upload-Offset')?.trim() ?? '';
  if (!/^\d{1,15}$/.test(value)) {
    throw invalid([{ parameter: 'Upload-Offset', detail: `Upload-Offset must be a whole number of bytes${value ? `, not "${value}"` : ' and is required'}.` }], 'header');
  }
  return Number(value);
}

/**
 * The request's body as a piece: a body whose connection breaks ends early instead of failing,
 * so what arrived is kept (`dropped()` then says so).
 */
function pieceBody(request: Request): { body: AsyncIterable<Uint8Array>; dropped: () => boolean } {
  let dropped = false;
  let received = 0;
  const length = request.headers.get('Content-Length');
  const declared = length === null ? undefined : Number(length);
  const stream = request.body;
  async function* read(): AsyncGenerator<Uint8Array> {
    if (!stream) return;
    const reader = stream.getReader();
    for (;;) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch {
        dropped = true;
        return;
      }
      if (next.done) {
        // A body shorter than its Content-Length lost its connection too (some runtimes end it quietly).
        if (declared !== undefined && received < declared) dropped = true;
        return;
      }
      received += next.value.byteLength;
      yield next.value;
    }
  }
  return { body: read(), dropped: () => dropped };
}

/** The draft's headers describing a resumable upload's state. */
function uploadHeaders(c: Context<AppEnv>, meta: Pick<UploadMeta, 'status' | 'offset' | 'expiresAt'>): Record<string, string> {
  const settings = c.var.services.config.uploads;
  const complete = meta.status !== 'receiving';
  const maxAge = Math.max(0, Math.floor((Date.parse(meta.expiresAt) - Date.now()) / 1000));
  const headers: Record<string, string> = {
    'Upload-Offset': String(meta.offset ?? 0),
    'Upload-Complete': complete ? '?1' : '?0',
    'Upload-Limit': `max-size=${settings.maxBytes}, max-append-size=${settings.maxPieceBytes}, max-age=${maxAge}`,
    'Cache-Control': 'no-store',
  };
  if (complete) headers['Upload-Length'] = String(meta.offset ?? 0);
  return headers;
}

/**
 * Runs one append to its end even if the client goes away (the runtime cancels a request whose
 * client disconnected, and what arrived must still be saved).
 */
function append(c: Context<AppEnv>, id: string, offset: number, complete: boolean): Promise<AppendResult> {
  const settings = c.var.services.config.uploads;
  const declared = Number(c.req.header('Content-Length'));
  if (declared > settings.maxPieceBytes) {
    throw new Problem('payload-too-large', `A piece may have at most ${settings.maxPieceBytes} bytes; send the file in smaller pieces.`, { maxPieceBytes: settings.maxPieceBytes });
  }
  const piece = pieceBody(c.req.raw);
  const result = appendPiece(c.var.services.db.primary, c.var.services.redis, {
    id,
    kinds: UPLOAD_KINDS,
    offset,
    complete,
    ...piece,
    settings,
    quota: stagingQuota(c),
  });
  c.executionCtx.waitUntil(result.catch(() => {}));
  return result;
}

const receivingHeaders = (c: Context<AppEnv>, meta: UploadMeta) => ({ ...uploadHeaders(c, meta), Location: `/uploads/${meta.id}` });

function stagedResponse(c: Context<AppEnv>, { meta, preview }: StagedUpload) {
  return c.json({ ...toStatus(meta), preview }, 201, { Location: `/uploads/${meta.id}`, ...(meta.offset === undefined ? {} : uploadHeaders(c, meta)) });
}

export const createUpload: RouteHandler<typeof routes.createUpload, AppEnv> = async (c) => {
  const query = c.req.valid('query');
  const settings = c.var.services.config.uploads;
  if (booleanHeader(c, 'Upload-Complete') === false) {
    const contentType = (c.req.header('Content-Type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (contentType !== 'text/csv' && contentType !== 'application/partial-upload' && c.req.raw.body) {
      throw new Problem('unsupported-media-type', `Send the first piece as text/csv${contentType ? `, not ${contentType}` : ''}.`);
    }
    if (!query.type) throw missingType();
    if (query.commit === 'true') {
      throw invalid([{ parameter: 'commit', detail: 'commit=true needs the whole file in this request; commit a resumable upload after its last piece.' }], 'query');
    }
    const meta = await createResumable(c.var.services.redis, UPLOAD_KINDS[query.type], query.onConflict, settings.ttlSeconds);
    const result = await append(c, meta.id, 0, false);
    if (result.complete) return stagedResponse(c, result.staged);
    return c.json(toStatus(result.meta), 201, receivingHeaders(c, result.meta));
  }
  const maxBytes = Math.min(settings.maxBytes, settings.maxPieceBytes);
  const { type, body } = await readUploadBody(c.req.raw, query.type, maxBytes);
  const staged = await stageUpload(c.var.services.db.primary, c.var.services.redis, {
    kind: UPLOAD_KINDS[type],
    onConflict: query.onConflict,
    // Not cancelled when refused: the rest is read before answering (see drainRefusedBody).
    records: csvRecords(body.values({ preventCancel: true }), maxBytes),
    settings,
    quota: stagingQuota(c),
  }).catch(async (error: unknown) => {
    // Refused mid-body (413, not UTF-8, too many errors): read the rest before answering.
    if (!body.locked) await drainRefusedBody(body.getReader());
    throw error;
  });
  if (query.commit !== 'true') return stagedResponse(c, staged);
  const upload = await commitStaged(bulkDatabase(c), c.var.services.redis, staged.meta.id);
  return c.json({ ...toStatus(upload), preview: staged.preview }, 201, { Location: `/uploads/${upload.id}` });
};

export const appendUpload: RouteHandler<typeof routes.appendUpload, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  const contentType = (c.req.header('Content-Type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (contentType !== 'application/partial-upload') {
    throw new Problem('unsupported-media-type', `Send a piece as application/partial-upload${contentType ? `, not ${contentType}` : ''}.`);
  }
  const offset = offsetHeader(c);
  const complete = booleanHeader(c, 'Upload-Complete');
  if (complete === undefined) {
    throw invalid([{ parameter: 'Upload-Complete', detail: 'Upload-Complete is required: ?1 for the last piece, ?0 otherwise.' }], 'header');
  }
  const result = await append(c, id, offset, complete);
  if (result.complete) return stagedResponse(c, result.staged);
  return c.body(null, 204, receivingHeaders(c, result.meta));
};

export const getUpload: RouteHandler<typeof routes.getUpload, AppEnv> = async (c) => {
  const { id } = c.req.valid('param');
  // Redis forgot it (expired, evicted, lost): a committed upload is still on record in the database.
  const upload = (await readMeta(c.var.services.redis, id)) ?? (await recordedUpload(c.var.services.db.primary, id));
  if (!upload) throw notFound(id);
  const resumable = 'offset' in upload && upload.offset !== undefined ? uploadHeaders(c, upload as UploadMeta) : {};
  return c.json(toStatus(upload), 200, resumable);
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
