/**
 * `pokemon upload`: sends a CSV file to `/uploads` in resumable pieces with a progress report,
 * returns what was staged (or committed), and turns row errors into a table and a non-zero exit.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { Api, CliError, EXIT, refusal } from './client.ts';
import { RecordCounter } from './csv.ts';
import { createProgress, type Progress } from './progress.ts';

export interface UploadOptions {
  type: 'trainer' | 'pokemon';
  onConflict: 'error' | 'update';
  commit: boolean;
  /** Bytes per request. */
  pieceSize: number;
}

/** What the API says of an upload (`GET /uploads/{id}` and the staging answer). */
export interface UploadStatus {
  id: string;
  type: string;
  status: 'receiving' | 'staged' | 'committed';
  rows: number;
  onConflict?: string;
  createdAt?: string;
  expiresAt?: string;
  committedAt?: string;
  inserted?: number;
  updated?: number;
}

export async function fileSize(path: string): Promise<number> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new CliError(`${path}: not a file`, EXIT.usage);
    return info.size;
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`, EXIT.usage);
  }
}

/**
 * The bytes `start` to `end` (exclusive) of the file as a web stream, each chunk counted into
 * `counter` and reported to `onBytes` as it is handed to the connection.
 */
export function fileRange(path: string, start: number, end: number, counter: RecordCounter, onBytes: (sent: number) => void): ReadableStream<Uint8Array> {
  let sent = 0;
  const source = end > start ? Readable.toWeb(createReadStream(path, { start, end: end - 1 })) : new Blob([]).stream();
  return (source as ReadableStream<Uint8Array>).pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        counter.add(chunk);
        sent += chunk.byteLength;
        onBytes(sent);
        controller.enqueue(chunk);
      },
    }),
  );
}

/** Data rows (the header is not one) among the records counted. */
export const dataRows = (counter: RecordCounter) => Math.max(0, counter.total - 1);

function query(options: UploadOptions): string {
  return new URLSearchParams({ type: options.type, ...(options.onConflict === 'update' && { onConflict: 'update' }) }).toString();
}

export async function commit(api: Api, id: string): Promise<UploadStatus> {
  return api.json<UploadStatus>(`/uploads/${encodeURIComponent(id)}/commit`, { method: 'POST' });
}

export async function upload(api: Api, path: string, options: UploadOptions): Promise<UploadStatus> {
  const size = await fileSize(path);
  const progress = createProgress(size);
  let staged: UploadStatus;
  try {
    staged = await uploadInPieces(api, path, size, options, progress);
  } finally {
    progress.stop();
  }
  return options.commit ? commit(api, staged.id) : staged;
}

/** `Upload-Limit` (a structured-field dictionary, e.g. `max-size=1000000, max-append-size=8388608`): the numeric members. */
export function uploadLimits(header: string | null): { maxSize?: number; maxAppendSize?: number } {
  const members = new Map(
    (header ?? '').split(',').map((member) => {
      const [name, value] = member.split('=').map((part) => part.trim());
      return [name, Number(value)] as const;
    }),
  );
  const size = (name: string) => (Number.isSafeInteger(members.get(name)) && members.get(name)! > 0 ? members.get(name) : undefined);
  return { maxSize: size('max-size'), maxAppendSize: size('max-append-size') };
}

/** How many times in a row a piece may fail (network, a retryable status, a 409) before the upload gives up; waits double from {@link FIRST_RETRY_MS}. */
const MAX_RETRIES = 5;
const FIRST_RETRY_MS = 250;
/** Answers after which the same piece may succeed: the server or a proxy had a moment (a 500 is a bug: resending does not help). */
const RETRYABLE = new Set([408, 429, 502, 503, 504]);

/**
 * The resumable-upload protocol (draft-ietf-httpbis-resumable-upload): an empty creation request,
 * then one `PATCH` per piece at the server's offset, the last with `Upload-Complete: ?1`. A
 * piece that fails (connection lost, {@link RETRYABLE}) is resent from the offset `HEAD` reports
 * — the server keeps whatever arrived — or, after a 409, from the offset it names; at most
 * {@link MAX_RETRIES} failures in a row.
 */
export async function uploadInPieces(api: Api, path: string, size: number, options: UploadOptions, progress: Progress): Promise<UploadStatus> {
  const created = await api.request(`/uploads?${query(options)}`, {
    method: 'POST',
    headers: { 'Content-Type': 'text/csv', 'Upload-Complete': '?0' },
    body: '',
  });
  if (created.status !== 201) throw await refusal(created);
  await created.body?.cancel();
  const header = created.headers.get('Location');
  if (!header) throw new CliError('The API does not take resumable uploads: its answer to the creation request has no Location', EXIT.refused);
  const location = new URL(header, created.url);
  const limits = uploadLimits(created.headers.get('Upload-Limit'));
  if (limits.maxSize !== undefined && size > limits.maxSize) {
    await (await api.request(location, { method: 'DELETE' })).body?.cancel();
    throw new CliError(`${path} is ${size} bytes; this API takes at most ${limits.maxSize} bytes per upload`, EXIT.refused);
  }
  const pieceSize = Math.min(options.pieceSize, limits.maxAppendSize ?? Number.POSITIVE_INFINITY);

  // The rows counted up to the server's offset, for the progress report.
  let confirmed = { offset: 0, counter: new RecordCounter() };
  let offset = Number(created.headers.get('Upload-Offset') ?? 0);
  let failures = 0;
  for (;;) {
    if (offset !== confirmed.offset) confirmed = await countTo(path, confirmed, offset);
    const end = Math.min(size, offset + pieceSize);
    const live = confirmed.counter.clone();
    let failure: CliError;
    let told: number | undefined;
    try {
      const response = await api.request(location, {
        method: 'PATCH',
        headers: {
          'Content-Type': 'application/partial-upload',
          'Upload-Offset': String(offset),
          'Upload-Complete': end === size ? '?1' : '?0',
          'Content-Length': String(end - offset),
        },
        body: fileRange(path, offset, end, live, (sent) => progress.update(offset + sent, dataRows(live))),
        duplex: 'half',
      });
      const serverOffset = Number(response.headers.get('Upload-Offset') ?? Number.NaN);
      if (response.status === 201) {
        progress.update(size, dataRows(live), true);
        return (await response.json()) as UploadStatus;
      }
      if (response.status === 204) {
        failures = 0;
        const next = Number.isSafeInteger(serverOffset) ? serverOffset : end;
        if (next === end) confirmed = { offset: end, counter: live };
        offset = next;
        progress.update(offset, dataRows(live), true);
        continue;
      }
      failure = await refusal(response);
      // A 409 (another append, or an offset the server is not at) names the offset: no need to ask.
      if (response.status === 409 && Number.isSafeInteger(serverOffset)) told = serverOffset;
      else if (!RETRYABLE.has(response.status)) throw failure;
    } catch (error) {
      if (!(error instanceof CliError) || error.exitCode !== EXIT.network) throw error;
      failure = error;
    }
    failures += 1;
    if (failures > MAX_RETRIES) throw new CliError(`the piece at byte ${offset} failed ${failures} times; the last time: ${failure.message}`, failure.exitCode, failure.details);
    progress.note(`the piece at byte ${offset} failed (${failure.message}); going on from the server's offset (retry ${failures} of ${MAX_RETRIES})`);
    await new Promise((resolve) => setTimeout(resolve, FIRST_RETRY_MS * 2 ** (failures - 1)));
    offset = told ?? (await serverOffset(api, location, offset));
  }
}

/** `HEAD` of the upload: the offset the server has; `fallback` when the server cannot be asked now (the next try will). */
async function serverOffset(api: Api, location: URL, fallback: number): Promise<number> {
  try {
    const response = await api.request(location, { method: 'HEAD' });
    const offset = Number(response.headers.get('Upload-Offset') ?? Number.NaN);
    if (response.ok && Number.isSafeInteger(offset)) return offset;
    if (!RETRYABLE.has(response.status)) throw await refusal(response);
    return fallback;
  } catch (error) {
    if (error instanceof CliError && error.exitCode === EXIT.network) return fallback;
    throw error;
  }
}

/** The record counter at `offset`: counted on from `from` when it is ahead of it, from the start otherwise. */
async function countTo(path: string, from: { offset: number; counter: RecordCounter }, offset: number) {
  const start = offset >= from.offset ? from : { offset: 0, counter: new RecordCounter() };
  const counter = start.counter.clone();
  for await (const _ of fileRange(path, start.offset, offset, counter, () => {}));
  return { offset, counter };
}
