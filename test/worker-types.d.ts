import type { Bindings } from '../src/env.ts';

declare global {
  namespace Cloudflare {
    /** `env` from `cloudflare:workers` in tests: the Worker's bindings. */
    interface Env extends Bindings {}
    /** Types `exports` from `cloudflare:workers`: the Worker's main module. */
    interface GlobalProps {
      mainModule: typeof import('../src/index.ts');
    }
  }
}
