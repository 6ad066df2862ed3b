/**
 * Stands in for zod's `locales/index.js` in the Worker bundle (wrangler.toml `[alias]`): zod's
 * `z` namespace re-exports every locale (~360 KiB), though only English is ever used — zod
 * configures it by default, and every message this API sends is its own.
 */
export { default as en } from 'zod/v4/locales/en.js';
