/**
 * API keys: their format, and the SQL behind the key routes and key verification.
 *
 * A key is `pta_`, 43 base62 characters (256 random bits) and a 6-character base62 CRC32 of
 * those 43, the shape GitHub's tokens have: a typo fails the checksum without a database
 * lookup, and secret scanners can recognise a leaked key by its prefix and checksum. Only the
 * key's SHA-256 is stored.
 */
import { and, desc, eq, gt, isNull, lt, or, sql } from 'drizzle-orm';
import { apiKeys } from '../db/schema.ts';
import { sqlState, SQLSTATE, type Database } from '../platform/database.ts';
import { sha256 } from '../platform/hashing.ts';
import type { RateLimit } from '../platform/rate-limit.ts';

export const SCOPES = ['read', 'write', 'admin', 'trainer'] as const;
export type Scope = (typeof SCOPES)[number];

/**
 * `admin` implies every scope, `write` and `trainer` imply `read`. (What a `trainer` key may
 * write is decided per route and per row: `http/trainer-access.ts`.)
 */
export function grants(scopes: readonly Scope[], needed: Scope): boolean {
  if (scopes.includes('admin')) return true;
  return scopes.includes(needed) || (needed === 'read' && (scopes.includes('write') || scopes.includes('trainer')));
}

export const KEY_PREFIX = 'pta_';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SECRET_LENGTH = 43;
const CHECKSUM_LENGTH = 6;
const KEY_PATTERN = new RegExp(`^${KEY_PREFIX}[0-9A-Za-z]{${SECRET_LENGTH + CHECKSUM_LENGTH}}$`);

/** `value` in base62, left-padded with zeros to `length` digits. */
function base62(value: bigint, length: number): string {
  let digits = '';
  for (let rest = value; rest > 0n; rest /= 62n) digits = BASE62[Number(rest % 62n)]! + digits;
  return digits.padStart(length, '0');
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(text: string): number {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) crc = CRC_TABLE[(crc ^ text.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const checksum = (secret: string) => base62(BigInt(crc32(secret)), CHECKSUM_LENGTH);

/** A new key from 256 random bits. */
export function generateKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const secret = base62(BigInt(`0x${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`), SECRET_LENGTH);
  return `${KEY_PREFIX}${secret}${checksum(secret)}`;
}

/** True when `token` has a key's shape and its checksum holds (no lookup needed to refuse a typo). */
export function isWellFormedKey(token: string): boolean {
  if (!KEY_PATTERN.test(token)) return false;
  const body = token.slice(KEY_PREFIX.length);
  return checksum(body.slice(0, SECRET_LENGTH)) === body.slice(SECRET_LENGTH);
}

/** What is stored in place of a key. */
export const hashKey = (key: string): Promise<string> => sha256(key);

export type { RateLimit };

export interface ApiKey {
  id: string;
  name: string;
  /** The key's first characters, to tell keys apart; never enough to use it. */
  prefix: string;
  scopes: Scope[];
  rateLimit: RateLimit | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
  /** The trainer a `trainer` key acts as; null for other keys (and for a trainer key whose trainer was deleted). */
  trainer: string | null;
}

type ApiKeyRow = typeof apiKeys.$inferSelect;

function toApiKey(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: row.scopes as Scope[],
    rateLimit:
      row.rateLimitRequests !== null && row.rateLimitWindowSeconds !== null
        ? { requests: row.rateLimitRequests, windowSeconds: row.rateLimitWindowSeconds }
        : null,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    trainer: row.trainerId,
  };
}

export interface NewApiKey {
  name: string;
  scopes: Scope[];
  expiresAt?: string | undefined;
  rateLimit?: RateLimit | undefined;
  /** For a `trainer` key: the trainer it acts as. */
  trainer?: string | undefined;
}

/**
 * Creates a key; the result is the only place the key itself ever appears. `undefined` when
 * `input.trainer` names no trainer (the foreign key refuses it, in the same statement).
 */
export async function createKey(db: Database, input: NewApiKey): Promise<(ApiKey & { key: string }) | undefined> {
  const key = generateKey();
  const rows = await db
    .insert(apiKeys)
    .values({
      id: `key_${crypto.randomUUID().replaceAll('-', '').slice(0, 24)}`,
      name: input.name,
      prefix: key.slice(0, KEY_PREFIX.length + 6),
      hash: await hashKey(key),
      scopes: [...new Set(input.scopes)],
      rateLimitRequests: input.rateLimit?.requests ?? null,
      rateLimitWindowSeconds: input.rateLimit?.windowSeconds ?? null,
      expiresAt: input.expiresAt === undefined ? null : new Date(input.expiresAt),
      trainerId: input.trainer ?? null,
    })
    .returning()
    .catch((error: unknown) => {
      if (sqlState(error) === SQLSTATE.foreignKeyViolation) return [];
      throw error;
    });
  const [row] = rows;
  return row && { ...toApiKey(row), key };
}

/** A page of keys, newest first (`limit + 1` rows); `after` is the last key id of the previous page. */
export async function listKeys(db: Database, page: { limit: number; after?: string | undefined }): Promise<ApiKey[]> {
  const cursor = page.after === undefined ? undefined : db.select({ createdAt: apiKeys.createdAt }).from(apiKeys).where(eq(apiKeys.id, page.after));
  const rows = await db
    .select()
    .from(apiKeys)
    .where(
      cursor === undefined
        ? undefined
        : or(lt(apiKeys.createdAt, sql`(${cursor})`), and(eq(apiKeys.createdAt, sql`(${cursor})`), lt(apiKeys.id, page.after!))),
    )
    .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id))
    .limit(page.limit + 1);
  return rows.map(toApiKey);
}

export async function getKey(db: Database, id: string): Promise<ApiKey | undefined> {
  const [row] = await db.select().from(apiKeys).where(eq(apiKeys.id, id));
  return row && toApiKey(row);
}

/** Revokes a key (once; revoking again changes nothing). Its hash, so caches can forget it; `undefined` when there is no such key. */
export async function revokeKey(db: Database, id: string): Promise<{ hash: string } | undefined> {
  const [row] = await db
    .update(apiKeys)
    .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
    .where(eq(apiKeys.id, id))
    .returning({ hash: apiKeys.hash });
  return row;
}

/**
 * The key with this hash, `undefined` when there is none; a key still in force is noted as used
 * in the same statement (callers verify a key once per few seconds, not per request).
 */
export async function verifyKey(db: Database, hash: string): Promise<ApiKey | undefined> {
  const inForce = and(eq(apiKeys.hash, hash), isNull(apiKeys.revokedAt), or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, sql`now()`)));
  const touched = db.$with('touched').as(db.update(apiKeys).set({ lastUsedAt: sql`now()` }).where(inForce).returning({ id: apiKeys.id }));
  const [row] = await db.with(touched).select().from(apiKeys).where(eq(apiKeys.hash, hash));
  return row && toApiKey(row);
}
