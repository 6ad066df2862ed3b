/**
 * Writes the OpenAPI document to a file (default `openapi.json`) without a server: the app's
 * own generator, with the deployment defaults (public reads) and the local `npm run dev` origin.
 * `npm run lint:openapi` lints that file.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

// The app is type-checked with the Workers types (tsconfig.json); imported by a computed name,
// it stays out of this folder's Node-typed program.
const src = '../src/';
const { createApp } = (await import(`${src}app.ts`)) as { createApp: () => unknown };
const { apiDocument } = (await import(`${src}openapi/document.ts`)) as { apiDocument: (app: unknown, options: { publicReads: boolean; origin: string }) => unknown };

const file = process.argv[2] ?? 'openapi.json';
const document = apiDocument(createApp(), { publicReads: true, origin: `http://127.0.0.1:${process.env.PORT ?? 8787}` });
mkdirSync(dirname(file), { recursive: true });
writeFileSync(file, `${JSON.stringify(document, null, 2)}\n`);
console.log(`wrote ${file}`);
