/**
 * The contract check: every response a test receives through `call()` is held to the OpenAPI
 * document — its status is documented for the operation the request matches (by method and path
 * template), its body matches that status's schema for its content type, and every header the
 * document marks required is present. Responses and headers written once in `components` are
 * followed through their `$ref`. A mismatch throws, so every test is a contract test too.
 *
 * JSON Schema validation is @cfworker/json-schema's: it interprets schemas, so it runs in any
 * Worker (Ajv compiles them with `new Function`, which workerd refuses outside this test pool).
 */
import { dereference, validate, type Schema } from '@cfworker/json-schema';
import app from '../../src/index.ts';
import { apiDocument } from '../../src/openapi/document.ts';

type Ref = { $ref: string };
type Header = { required?: boolean };
type Media = { schema?: Schema };
type DocumentedResponse = { headers?: Record<string, Header | Ref>; content?: Record<string, Media> };
type Operation = { operationId: string; responses: Record<string, DocumentedResponse | Ref> };
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { responses: Record<string, DocumentedResponse>; headers: Record<string, Header>; parameters: Record<string, object>; schemas: Record<string, Schema> };
}

interface Contract {
  document: Document;
  lookup: ReturnType<typeof dereference>;
  operations: { method: string; pattern: RegExp; path: string; operation: Operation }[];
}

/** Routes outside the API's document: the document itself and the reference that renders it. */
const UNDOCUMENTED = /^\/(openapi\.json|docs(\/.*)?)$/;

const contracts = new Map<boolean, Contract>();

/** The document the app serves with `publicReads` (it decides which reads need a key). */
export function contractFor(publicReads: boolean): Contract {
  const known = contracts.get(publicReads);
  if (known) return known;
  const document = JSON.parse(JSON.stringify(apiDocument(app, { publicReads, origin: 'http://api.test' }))) as Document;
  const operations = Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => ({
      method: method.toUpperCase(),
      pattern: new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}/?$`),
      path,
      operation,
    })),
  );
  const contract = { document, lookup: dereference(document as unknown as Schema), operations };
  contracts.set(publicReads, contract);
  return contract;
}

export class ContractViolation extends Error {
  override name = 'ContractViolation';
}

/** `node`, or what its `$ref` (a pointer into `document`'s components) names; a reference to nothing throws. */
export function resolved<T extends object>(document: Document, node: T | Ref): T {
  if (!('$ref' in node)) return node;
  const match = /^#\/components\/(responses|headers|parameters)\/([^/]+)$/.exec(node.$ref);
  const target = match && (document.components[match[1] as 'responses' | 'headers' | 'parameters'] as Record<string, T>)[match[2]!];
  if (!target) throw new ContractViolation(`the document refers to ${node.$ref}, which it does not have`);
  return target;
}

/** Throws a {@link ContractViolation} unless `response` is one the document allows for `request`. */
export async function checkContract(request: Request, response: Response, publicReads = true): Promise<void> {
  const url = new URL(request.url);
  if (request.method === 'OPTIONS' || UNDOCUMENTED.test(url.pathname)) return;
  const contract = contractFor(publicReads);
  const method = request.method === 'HEAD' ? 'GET' : request.method;
  const onPath = contract.operations.filter((candidate) => candidate.pattern.test(url.pathname));
  const match = onPath.find((candidate) => candidate.method === method);
  const where = `${request.method} ${url.pathname}${url.search} → ${response.status}`;

  let documented: DocumentedResponse;
  let name: string;
  if (match) {
    name = `${match.operation.operationId} (${match.method} ${match.path})`;
    const entry = match.operation.responses[String(response.status)] ?? match.operation.responses.default;
    if (!entry) {
      throw new ContractViolation(`${where}: ${name} does not document ${response.status} (it documents ${Object.keys(match.operation.responses).join(', ')})`);
    }
    documented = resolved(contract.document, entry);
  } else {
    // No operation: the path exists with other methods (405) or not at all (404).
    const expected = onPath.length > 0 ? 405 : 404;
    name = expected === 405 ? 'a path without this method' : 'no route';
    if (response.status !== expected) throw new ContractViolation(`${where}: ${name} must answer ${expected}`);
    documented = resolved<DocumentedResponse>(contract.document, { $ref: `#/components/responses/${expected === 405 ? 'MethodNotAllowed' : 'NotFound'}` });
  }

  for (const [header, entry] of Object.entries(documented.headers ?? {})) {
    if (resolved(contract.document, entry).required && !response.headers.has(header)) throw new ContractViolation(`${where}: ${name} must send the ${header} header`);
  }

  const body = request.method === 'HEAD' ? '' : await response.clone().text();
  const content = documented.content;
  if (content === undefined) {
    if (body !== '') throw new ContractViolation(`${where}: ${name} documents no body for ${response.status}, but one was sent`);
    return;
  }
  const mediaType = (response.headers.get('Content-Type') ?? '').split(';')[0]!.trim();
  const media = content[mediaType];
  if (!media) throw new ContractViolation(`${where}: ${name} answered ${mediaType || 'no Content-Type'}; documented: ${Object.keys(content).join(', ')}`);
  if (request.method === 'HEAD' || media.schema === undefined || !mediaType.endsWith('json')) return;
  let instance: unknown;
  try {
    instance = JSON.parse(body);
  } catch {
    throw new ContractViolation(`${where}: ${name} sent ${mediaType} that does not parse: ${body.slice(0, 200)}`);
  }
  const result = validate(instance, media.schema, '2020-12', contract.lookup, false);
  if (!result.valid) {
    const errors = result.errors
      .filter((error) => !/^(A subschema had errors|Items did not match schema|Property "[^"]*" does not match schema)\.?$/.test(error.error))
      .slice(0, 5)
      .map((error) => `${error.instanceLocation}: ${error.error}`);
    throw new ContractViolation(`${where}: the body does not match ${name}'s ${response.status} schema: ${errors.join('; ')}\n${body.slice(0, 500)}`);
  }
}
