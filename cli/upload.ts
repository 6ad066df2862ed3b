/**
 * `pokemon upload`: sends a CSV file to `POST /uploads` with a progress report, prints what was
 * staged (or committed), and turns row errors into a table and a non-zero exit.
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
  status: 'staged' | 'committed';
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

/** The whole file in one `POST /uploads` (streamed), for a server without resumable uploads. */
export async function uploadInOneRequest(api: Api, path: string, size: number, options: UploadOptions, progress: Progress): Promise<UploadStatus> {
  const counter = new RecordCounter();
  const body = fileRange(path, 0, size, counter, (sent) => progress.update(sent, dataRows(counter)));
  const response = await api.request(`/uploads?${query(options)}`, {
    method: 'POST',
    headers: { 'Content-Type': 'text/csv', 'Content-Length': String(size) },
    body,
    duplex: 'half',
  });
  progress.update(size, dataRows(counter), true);
  if (response.status !== 201) throw await refusal(response);
  return (await response.json()) as UploadStatus;
}

export async function commit(api: Api, id: string): Promise<UploadStatus> {
  return api.json<UploadStatus>(`/uploads/${encodeURIComponent(id)}/commit`, { method: 'POST' });
}

export async function upload(api: Api, path: string, options: UploadOptions): Promise<UploadStatus> {
  const size = await fileSize(path);
  const progress = createProgress(size);
  let staged: UploadStatus;
  try {
    staged = await uploadInOneRequest(api, path, size, options, progress);
  } finally {
    progress.stop();
  }
  return options.commit ? commit(api, staged.id) : staged;
}
