/**
 * Small HTTP helpers shared by the local stand-ins (Node only, never bundled into the Worker).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Thrown by {@link readBody} when the request body exceeds the limit. */
export class BodyTooLargeError extends Error {
  readonly limit: number;
  constructor(limit: number) {
    super(`request is too large (max is ${limit} bytes)`);
    this.limit = limit;
  }
}

/** Reads the whole request body, refusing more than `limit` bytes without buffering the excess. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLargeError(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new BodyTooLargeError(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Sends `body` as JSON with the given status and extra headers. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}

/** Resolves after `ms` milliseconds (a timer: the event loop stays free meanwhile). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/**
 * Whether a `Host` header names this machine's loopback (`127.0.0.1`, `localhost`, `[::1]`,
 * any port). Anything else means the request was addressed to another name — e.g. a web page
 * that re-pointed its own domain at 127.0.0.1 (DNS rebinding) — and is refused.
 */
export function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  return /^(?:127\.0\.0\.1|localhost|\[::1\])(?::\d{1,5})?$/i.test(host);
}

/** A running stand-in: its base URL and a way to stop it. */
export interface RunningServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Starts `handler` on `host:port` (port 0 picks a free one). Requests whose `Host` is not a
 * loopback name get 403 before `handler` sees them (see {@link isLoopbackHost}). A handler
 * that throws answers 500 with a JSON body instead of crashing the process.
 */
export async function listen(handler: RequestHandler, port = 0, host = '127.0.0.1'): Promise<RunningServer> {
  const server: Server = createServer((req, res) => {
    if (!isLoopbackHost(req.headers.host)) {
      const message = `forbidden host: ${JSON.stringify(req.headers.host ?? '')} (only 127.0.0.1, localhost and [::1] are served)`;
      sendJson(res, 403, { message, error: message });
      return;
    }
    handler(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { message: String(error), error: String(error) });
      else res.destroy();
    });
  });
  // Keep idle sockets far longer than clients do: a server that closes first races the
  // client's reuse of that socket, and a burst's sockets would all expire together.
  // Shutdown is unaffected: close() ends every connection.
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const { port: boundPort } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${boundPort}`,
    port: boundPort,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
