/**
 * `GET /docs`: the interactive API reference. Its script is the pinned `@scalar/api-reference`
 * standalone bundle, served by this Worker's static assets (`/docs/scalar.js`, see
 * wrangler.toml), so the page works offline and asks no other host for anything.
 */
import type { Context } from 'hono';

/**
 * Scripts only from this origin, and no inline script; styles may be inline because Scalar
 * injects its stylesheet at run time. Everything else from this origin (or `data:` images and fonts).
 */
export const DOCS_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Pokémon Trainers API — reference</title>
  </head>
  <body>
    <div id="app"></div>
    <script src="/docs/scalar.js"></script>
    <script src="/docs/init.js"></script>
  </body>
</html>
`;

export function docsPage(c: Context) {
  c.header('Content-Security-Policy', DOCS_CSP);
  return c.html(PAGE);
}
