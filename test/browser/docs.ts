/**
 * `npm run test:docs`: the API reference in a real browser, offline. Starts the dev stack
 * (`npm run dev` on the embedded engines, a free port, a throw-away PGlite folder), opens
 * `/docs` in headless Chromium (Debian's, /usr/bin/chromium) with every other host unreachable
 * — DNS answers nothing for any name, and any request not to the dev server is failed — and
 * checks that the reference renders every operation of every tag, with no request elsewhere,
 * no script error and no CSP violation. Leaves a screenshot in .data/docs.png.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { ROOT, startDevServer } from '../../bench/support/processes.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

type Document = { tags: { name: string }[]; paths: Record<string, Record<string, { summary: string; tags: string[] }>> };

const pglite = mkdtempSync(join(tmpdir(), 'docs-pglite-'));
const server = await startDevServer({ PGLITE_DIR: pglite });
const failures: string[] = [];
try {
  const spec = (await (await fetch(`${server.url}/openapi.json`)).json()) as Document;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    // Root in CI has no user namespaces for Chromium's sandbox.
    args: ['--no-sandbox', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const origin = new URL(server.url).origin;
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(`${origin}/`) || url.startsWith('data:')) return route.continue();
      failures.push(`requested another host: ${url}`);
      return route.abort('internetdisconnected');
    });
    page.on('pageerror', (error) => failures.push(`script error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') failures.push(`console error: ${message.text()}`);
    });
    await page.goto(`${server.url}/docs`, { waitUntil: 'networkidle' });

    // Every tag's section (init.js opens them all), and in it every operation's own block, with its summary.
    for (const tag of spec.tags) {
      const section = page.locator('section[id*="/tag/"]', { hasText: tag.name }).first();
      await section.waitFor({ timeout: 30_000 }).catch(() => failures.push(`tag ${tag.name} is not rendered`));
    }
    let rendered = 0;
    for (const [path, item] of Object.entries(spec.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        const block = page.locator(`[id*="/tag/"][id$="/${method.toUpperCase()}${path}"]`).first();
        // Scalar renders an operation's block once it scrolls into view.
        const shown = await block
          .scrollIntoViewIfNeeded({ timeout: 5_000 })
          .then(() => block.getByText(operation.summary).first().waitFor({ timeout: 5_000 }))
          .then(() => true, () => false);
        if (shown) rendered++;
        else failures.push(`${operation.tags.join(', ')}: ${method.toUpperCase()} ${path} ("${operation.summary}") is not rendered`);
      }
    }
    await page.screenshot({ path: join(ROOT, '.data', 'docs.png') });
    console.log(`[docs] ${rendered} operations of ${spec.tags.length} tags rendered offline`);
  } finally {
    await browser.close();
  }
} finally {
  await server.stop();
  rmSync(pglite, { recursive: true, force: true });
}

if (failures.length > 0) {
  console.error(failures.map((failure) => `  ✗ ${failure}`).join('\n'));
  console.error(`${failures.length} failed`);
  process.exit(1);
}
console.log('1 passed, 0 failed');
