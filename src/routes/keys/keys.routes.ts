import { createRoute, z } from '@hono/zod-openapi';
import { SCOPES } from '../../domain/keys.ts';
import { textSchema } from '../../domain/fields.ts';
import { idSchema } from '../../platform/text-schemas.ts';
import { jsonContent, noStoreHeaders, problemResponse } from '../../openapi/responses.ts';
import { pageQuerySchema, pageSchema } from '../../platform/pagination.ts';
import { requireJson } from '../../platform/validation.ts';

const RateLimitSchema = z
  .strictObject({
    requests: z.number({ error: 'must be a whole number from 1 to 1000000' }).int('must be a whole number').min(1, 'must be at least 1').max(1_000_000, 'must be at most 1000000'),
    windowSeconds: z.number({ error: 'must be a whole number from 1 to 86400' }).int('must be a whole number').min(1, 'must be at least 1').max(86_400, 'must be at most 86400'),
  })
  .openapi('RateLimit');

export const ApiKeySchema = z
  .object({
    id: z.string().openapi({ example: 'key_3f9c2a7d1e4b4c5f8a6d0b2e' }),
    name: z.string().openapi({ example: 'game server' }),
    prefix: z.string().openapi({ description: 'The first characters of the key, to tell keys apart.', example: 'pta_4kQ9zX' }),
    scopes: z.array(z.enum(SCOPES)),
    rateLimit: RateLimitSchema.nullable().openapi({ description: 'Null: the deployment’s default limit.' }),
    createdAt: z.string().openapi({ format: 'date-time' }),
    expiresAt: z.string().nullable().openapi({ format: 'date-time' }),
    revokedAt: z.string().nullable().openapi({ format: 'date-time' }),
    lastUsedAt: z.string().nullable().openapi({ format: 'date-time', description: 'When a Worker last verified the key (refreshed every few seconds of use, not per request).' }),
    trainer: z.string().nullable().openapi({ description: 'The trainer a `trainer` key acts as (null once that trainer is deleted: the key no longer works).', example: null }),
  })
  .openapi('ApiKey');

const CreatedKeySchema = ApiKeySchema.extend({
  key: z.string().openapi({ description: 'The key itself. Shown only here, once: store it now.', example: 'pta_4kQ9zX…' }),
}).openapi('CreatedApiKey');

const NewKeySchema = z
  .strictObject({
    name: textSchema(100).meta({ example: 'game server' }),
    scopes: z
      .array(z.enum(SCOPES, { error: `must be one of ${SCOPES.join(', ')}` }))
      .min(1, 'must list at least one scope')
      .max(SCOPES.length, `must list at most ${SCOPES.length} scopes`)
      .openapi({
        description:
          '`read`; `write` (trainers, Pokémon, exchanges, uploads, offers; implies read); `admin` (keys; implies all but trainer); ' +
          '`trainer` (alone, with `trainer`: acts as that trainer — its own Pokémon and offers; implies read).',
        example: ['write'],
      }),
    expiresAt: z
      .string()
      .refine((value) => !Number.isNaN(Date.parse(value)) && /^\d{4}-\d{2}-\d{2}T/.test(value), 'must be a date-time like 2030-01-01T00:00:00Z')
      .refine((value) => Number.isNaN(Date.parse(value)) || Date.parse(value) > Date.now(), 'must be in the future')
      .optional()
      .openapi({ format: 'date-time' }),
    rateLimit: RateLimitSchema.optional(),
    trainer: idSchema.optional().openapi({ description: 'With `scopes: ["trainer"]` (and only then): the trainer the key acts as.', example: 'ash' }),
  })
  .superRefine((input, ctx) => {
    const trainerScope = input.scopes.includes('trainer');
    if (trainerScope && input.trainer === undefined) ctx.addIssue({ code: 'custom', path: ['trainer'], message: 'is required with the trainer scope' });
    if (!trainerScope && input.trainer !== undefined) ctx.addIssue({ code: 'custom', path: ['trainer'], message: 'needs scopes: ["trainer"]' });
    if (trainerScope && input.scopes.some((scope) => scope !== 'trainer')) {
      ctx.addIssue({ code: 'custom', path: ['scopes'], message: 'the trainer scope cannot be combined with other scopes' });
    }
  })
  .openapi('NewApiKey');

const KeyParams = z.object({ id: z.string().regex(/^key_[0-9a-f]{24}$/).openapi({ param: { name: 'id', in: 'path' }, example: 'key_3f9c2a7d1e4b4c5f8a6d0b2e' }) });

export const createKey = createRoute({
  operationId: 'createKey',
  method: 'post',
  path: '/keys',
  tags: ['Keys'],
  summary: 'Create an API key',
  description: 'Admin only. The answer holds the key itself, the only time it is ever shown; only its hash is stored.',
  middleware: [requireJson] as const,
  request: { body: { required: true, content: { 'application/json': { schema: NewKeySchema } } } },
  responses: {
    201: { ...jsonContent(CreatedKeySchema, 'Created; `Location` names the key.'), headers: noStoreHeaders },
    422: problemResponse('Invalid fields: an unknown scope, an `expiresAt` in the past, a bad rate limit, a `trainer` scope without a known `trainer` (or a `trainer` without that scope).'),
  },
});

export const listKeys = createRoute({
  operationId: 'listKeys',
  method: 'get',
  path: '/keys',
  tags: ['Keys'],
  summary: 'List API keys',
  description: 'Admin only. Newest first, revoked ones included. Never a key or its hash.',
  request: { query: pageQuerySchema },
  responses: { 200: jsonContent(pageSchema(ApiKeySchema), 'A page of keys.'), 422: problemResponse('A bad `limit` or `cursor`.') },
});

export const getKey = createRoute({
  operationId: 'getKey',
  method: 'get',
  path: '/keys/{id}',
  tags: ['Keys'],
  summary: 'Get an API key',
  description: 'Admin only. Its metadata: scopes, limits, expiry, revocation and last use; never the key or its hash.',
  request: { params: KeyParams },
  responses: { 200: jsonContent(ApiKeySchema, 'The key (without its secret).'), 404: problemResponse('No such key.') },
});

export const revokeKey = createRoute({
  operationId: 'revokeKey',
  method: 'delete',
  path: '/keys/{id}',
  tags: ['Keys'],
  summary: 'Revoke an API key',
  description: 'Refused at once by the Worker that revoked it, and everywhere within 10 seconds.',
  request: { params: KeyParams },
  responses: { 204: { description: 'Revoked.' }, 404: problemResponse('No such key.') },
});
