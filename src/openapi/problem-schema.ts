import { z } from '@hono/zod-openapi';

/** On an unknown species: the closest names. */
const suggestions = z
  .array(z.string())
  .max(3)
  .optional()
  .openapi({ description: 'For an unknown species: up to 3 species with the closest names.', example: ['Pikachu'] });

/** A problem in the JSON body, at a JSON Pointer (RFC 6901). */
const BodyErrorSchema = z
  .object({ pointer: z.string().openapi({ example: '/dateOfBirth' }), detail: z.string().openapi({ example: 'must be a real date written YYYY-MM-DD' }), suggestions })
  .openapi('BodyError');

/** A problem with a query parameter or a request header, by name. */
const ParameterErrorSchema = z
  .object({ parameter: z.string().openapi({ example: 'limit' }), detail: z.string().openapi({ example: 'must be a whole number from 1 to 100' }), suggestions })
  .openapi('ParameterError');

/** A problem in an uploaded CSV file: a cell (or a header name, on line 1). */
const RowErrorSchema = z
  .object({
    line: z.number().int().openapi({ description: 'Line of the file the row starts on; the header is line 1.', example: 3 }),
    column: z.string().openapi({ example: 'dateOfBirth' }),
    value: z.string().openapi({ description: 'The cell as sent, cut to 100 characters and "…".', example: '31-02-2001' }),
    detail: z.string().openapi({ example: 'must be a real date written YYYY-MM-DD' }),
  })
  .openapi('RowError');

/** The RFC 9457 body every error response carries. */
export const ProblemSchema = z
  .object({
    type: z.string().openapi({ description: 'A URI of `GET /problems/{code}`, which describes the problem.', example: '/problems/validation-failed' }),
    title: z.string().openapi({ example: 'Validation failed' }),
    status: z.number().int().openapi({ example: 422 }),
    detail: z.string(),
    instance: z.string().openapi({ description: 'The path of the request.', example: '/trainers' }),
    requestId: z.string().openapi({ description: 'The `X-Request-Id` of the request: quote it when reporting a problem.' }),
    errors: z
      .array(z.union([BodyErrorSchema, ParameterErrorSchema, RowErrorSchema]))
      .optional()
      .openapi({ description: 'Every invalid field (422), or what each unknown id or conflict was (404, 409): body fields by `pointer`, parameters and headers by `parameter`, CSV cells by `line` and `column` (at most 1,000; `errorCount` counts them all).' }),
    errorCount: z.number().int().optional().openapi({ description: 'Uploads: every error found, when `errors` lists only the first 1,000.' }),
  })
  .passthrough()
  .openapi('Problem', { description: 'RFC 9457 problem details. Some problems add members of their own (e.g. `dependency`, `offerStatus`, `conflicts`); each is named where it applies.' });

export const problemContent = { 'application/problem+json': { schema: ProblemSchema } };
