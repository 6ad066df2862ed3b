import type { Bindings } from '../src/env.ts';

declare global {
  namespace Cloudflare {
    /** `env` from `cloudflare:workers` in tests: the Worker's bindings. */
    interface Env extends Bindings {
      /** The static assets (wrangler.toml `[assets]`). */
      ASSETS: Fetcher;
    }
    /** Types `exports` from `cloudflare:workers`: the Worker's main module. */
    interface GlobalProps {
      mainModule: typeof import('../src/index.ts');
    }
  }
}
