import { createRoute, z } from '@hono/zod-openapi';
import { UPLOAD_TYPES } from '../../domain/uploads/kinds.ts';
import { headers } from '../../openapi/components.ts';
import { ProblemSchema } from '../../openapi/problem-schema.ts';
import { jsonContent, problemResponse } from '../../openapi/responses.ts';

const UploadStatusSchema = z
  .object({
    id: z.string().uuid(),
    type: z.enum(UPLOAD_TYPES),
    onConflict: z.enum(['error', 'update']).optional().meta({ description: 'Absent when only the database\'s commit record is left (see `committedAt`).' }),
    status: z.enum(['receiving', 'staged', 'committed']).meta({ description: '`receiving`: a resumable upload still taking pieces.' }),
    rows: z.number().int().openapi({ example: 20 }),
    offset: z.number().int().optional().meta({ description: 'Resumable uploads: bytes received so far (also `Upload-Offset`).' }),
    errorCount: z.number().int().optional().meta({ description: 'Resumable uploads: invalid rows found so far; the last piece answers them all (422).' }),
    createdAt: z.string().optional().meta({ format: 'date-time', description: 'Absent when only the commit record is left.' }),
    expiresAt: z
      .string()
      .optional()
      .meta({
        format: 'date-time',
        description: 'When the upload (staged rows and this status) is forgotten. Absent once it has been: a committed upload is then read from the database\'s commit record.',
      }),
    committedAt: z.string().optional().meta({ format: 'date-time' }),
    inserted: z.number().int().optional().meta({ description: 'Rows created by the commit.' }),
    updated: z.number().int().optional().meta({ description: 'Existing rows changed by the commit (onConflict=update).' }),
  })
  .openapi('UploadStatus');

const StagedUploadSchema = UploadStatusSchema.extend({
  preview: z
    .array(z.record(z.string(), z.union([z.string(), z.number()])))
    .optional()
    .openapi({ description: 'The first rows as they will be written (absent while a resumable upload is receiving).' }),
}).openapi('StagedUpload');

const CommittedSchema = z
  .object({ status: z.literal('committed'), inserted: z.number().int(), updated: z.number().int() })
  .extend(UploadStatusSchema.shape)
  .openapi('CommittedUpload');

const ConflictProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    uploadId: z.string().uuid(),
    conflicts: z.array(z.object({ id: z.string(), column: z.string(), value: z.string(), detail: z.string() })),
    conflictCount: z.number().int(),
  })
  .passthrough()
  .openapi('UploadConflictProblem');

const UploadParams = z.object({ id: z.string().uuid().openapi({ param: { name: 'id', in: 'path' } }) });

const conflict = {
  description:
    'The database refuses some rows now (an id taken, an owner deleted: `conflicts`): nothing was written, the upload stays staged; ' +
    'or a resumable upload is still receiving pieces (`uploadOffset` says how far it is).',
  content: { 'application/problem+json': { schema: z.union([ConflictProblemSchema, ProblemSchema]) } },
};

const TRAINER_CSV = 'id,firstName,lastName,dateOfBirth\r\ntrainer1,Ash,Ketchum,22-05-2010\r\ntrainer2,Misty,Waterflower,2011-07-03';

export const createUpload = createRoute({
  operationId: 'createUpload',
  method: 'post',
  path: '/uploads',
  tags: ['Uploads'],
  summary: 'Upload a CSV of trainers or Pokémon',
  description:
    'The body is the CSV file (`text/csv`), or a `multipart/form-data` form with fields `type` and `data` (the file). ' +
    'Header row required; columns by name, in any order. Trainers: `id,firstName,lastName,dateOfBirth`; Pokémon: ' +
    '`id,nickname,species,level,owner,dateOfOwnership`. Dates `YYYY-MM-DD` or `DD-MM-YYYY`. Every row is checked; ' +
    'if any is invalid nothing is staged and the 422 lists every error. Otherwise the rows are staged until `expiresAt`: ' +
    'commit them with `POST /uploads/{id}/commit`, or send `commit=true` to do it in this request. ' +
    'With `Upload-Complete: ?0` this creates a resumable upload (draft-ietf-httpbis-resumable-upload): the body, possibly empty, ' +
    'is its first piece; `Location` names it and `Upload-Offset` says how many bytes it has. Append the rest with `PATCH`.',
  request: {
    query: z.object({
      type: z.enum(UPLOAD_TYPES, { error: 'must be trainer or pokemon' }).optional().meta({ description: 'What the rows are; with a form it may be the `type` field instead.' }),
      onConflict: z
        .enum(['error', 'update'], { error: 'must be error or update' })
        .default('error')
        .openapi({ description: '`update`: rows whose id exists update them instead of being errors.' }),
      commit: z.enum(['true', 'false'], { error: 'must be true or false' }).default('false').openapi({ description: 'Also commit, in this request.' }),
    }),
    // Plain OpenAPI schemas (not zod): they document the body without a validator buffering it.
    body: {
      required: true,
      content: {
        'text/csv': { schema: { type: 'string', example: TRAINER_CSV } },
        'multipart/form-data': {
          schema: {
            type: 'object',
            required: ['data'],
            properties: { type: { type: 'string', enum: [...UPLOAD_TYPES] }, data: { type: 'string', format: 'binary' } },
          },
        },
      },
    },
  },
  responses: {
    201: jsonContent(StagedUploadSchema, 'Staged (or, with `commit=true`, committed), or a resumable upload created (`receiving`); `Location` names the upload.'),
    409: conflict,
    413: problemResponse('The body is over `UPLOAD_MAX_PIECE_BYTES` (or the file over `UPLOAD_MAX_BYTES`), or has more than `UPLOAD_MAX_ROWS` rows.'),
    415: problemResponse('The body is neither `text/csv` nor `multipart/form-data`.'),
    422: problemResponse(
      'Invalid file, header or rows (`errors` by `line` and `column`, first 1,000, with `errorCount`), or a bad query parameter ' +
        '(`commit=true` with `Upload-Complete: ?0`, too); nothing staged.',
    ),
  },
});

export const getUpload = createRoute({
  operationId: 'getUpload',
  method: 'get',
  path: '/uploads/{id}',
  tags: ['Uploads'],
  summary: 'Get an upload’s status',
  description:
    "Staged or committed, how many rows, and until when it is kept; a committed upload stays readable from the database's commit record after Redis forgets it. " +
    'A resumable upload also answers `Upload-Offset`, `Upload-Complete`, `Upload-Limit` (and `Upload-Length` once complete), ' +
    'with `Cache-Control: no-store`; `HEAD` answers the same headers without the body.',
  request: { params: UploadParams },
  responses: {
    200: jsonContent(UploadStatusSchema, 'The upload.'),
    404: problemResponse('No such upload, or it expired.'),
  },
});

export const appendUpload = createRoute({
  operationId: 'appendUpload',
  method: 'patch',
  path: '/uploads/{id}',
  tags: ['Uploads'],
  summary: 'Append a piece to a resumable upload',
  description:
    'The body (`application/partial-upload`) is the file\'s bytes from `Upload-Offset` on; a piece may end anywhere, even inside a row or a character. ' +
    '`Upload-Complete: ?1` says it is the last: the answer is then that of a single-request upload (201 staged, or 422 with every row error; ' +
    'the upload is discarded). A piece cut short by a broken connection keeps what arrived: `HEAD` says where to resume. ' +
    'Headers: `Upload-Offset: N` (bytes the client believes the upload has) and `Upload-Complete: ?0` or `?1`.',
  request: {
    params: UploadParams,
    // Read by the handler (structured fields: `Upload-Offset: 1024`, `Upload-Complete: ?0`), documented here.
    body: { required: true, content: { 'application/partial-upload': { schema: { type: 'string', format: 'binary' } } } },
  },
  responses: {
    201: jsonContent(StagedUploadSchema, 'The last piece: the upload is staged.'),
    204: {
      description: 'The piece is appended; `Upload-Offset` is the new offset.',
      headers: headers('Upload-Offset', 'Upload-Complete', 'Upload-Limit'),
    },
    404: problemResponse('No such upload, or it expired.'),
    409: problemResponse('`Upload-Offset` is not the upload\'s (its `Upload-Offset` header says which is), another append is running, or the upload is complete.'),
    413: problemResponse('The piece is over `UPLOAD_MAX_PIECE_BYTES`, or the file over `UPLOAD_MAX_BYTES` or `UPLOAD_MAX_ROWS`; the upload is discarded.'),
    415: problemResponse('The body is not `application/partial-upload`.'),
    422: problemResponse(
      'Invalid file, header or rows (`errors` by `line` and `column`, all of them on the last piece: first 1,000, with `errorCount`): the upload is discarded; ' +
        'or a malformed or missing `Upload-Offset` / `Upload-Complete` header: nothing appended.',
    ),
  },
});

export const commitUpload = createRoute({
  operationId: 'commitUpload',
  method: 'post',
  path: '/uploads/{id}/commit',
  tags: ['Uploads'],
  summary: 'Commit a staged upload',
  description:
    'Writes every staged row in one transaction, with an ownership-history row (`uploaded`) for each new owner. ' +
    'Exactly once: committing again, even concurrently, writes nothing more and answers the same.',
  request: { params: UploadParams },
  responses: {
    200: jsonContent(CommittedSchema, 'Committed.'),
    404: problemResponse('No such upload, or it expired.'),
    409: conflict,
  },
});

export const deleteUpload = createRoute({
  operationId: 'deleteUpload',
  method: 'delete',
  path: '/uploads/{id}',
  tags: ['Uploads'],
  summary: 'Discard an upload',
  description: 'Removes the staged rows (and the status). Rows already committed stay.',
  request: { params: UploadParams },
  responses: {
    204: { description: 'Discarded.' },
    404: problemResponse('No such upload, or it expired.'),
    409: problemResponse('A piece is being appended to the upload: delete it once that append has answered.'),
  },
});
