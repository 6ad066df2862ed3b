/**
 * What a `trainer` key may do beyond reading. A trainer key acts as one trainer: it may change
 * that trainer, create, change and delete that trainer's Pokémon, and make and answer its
 * offers. Every other route that needs a key is refused here, with the reason.
 *
 * This is the route-level half of the rule. The row-level half is where the data is: the
 * Pokémon statements only touch a row owned by the trainer, the offer statements only act for
 * the offer's `from` or `to`, and `POST /pokemon` / `POST /offers` check the body's trainer.
 */

/** The routes a trainer key may use (`HEAD` counts as `GET`); `self` = the path's id must be the key's trainer. */
const ALLOWED: { method: string; path: RegExp; self?: true }[] = [
  { method: 'PATCH', path: /^\/trainers\/([^/]+)$/, self: true },
  { method: 'POST', path: /^\/pokemon$/ },
  { method: 'PATCH', path: /^\/pokemon\/[^/]+$/ },
  { method: 'DELETE', path: /^\/pokemon\/[^/]+$/ },
  { method: 'GET', path: /^\/offers(\/[^/]+)?$/ },
  { method: 'POST', path: /^\/offers$/ },
  { method: 'POST', path: /^\/offers\/[^/]+\/(accept|decline)$/ },
  { method: 'DELETE', path: /^\/offers\/[^/]+$/ },
];

/** Why the other routes are refused, by `"<METHOD> <path>"`; the first match says it. */
const REFUSALS: [RegExp, string][] = [
  [/^POST \/exchanges\/?$/, 'Trainer keys trade through offers: POST /offers, which the other trainer accepts. POST /exchanges is for write keys.'],
  [/^\w+ \/uploads(\/|$)/, 'Uploads are for write keys: a trainer key acts only for its own trainer.'],
  [/^\w+ \/keys(\/|$)/, 'API keys are managed with admin keys.'],
  [/^\w+ \/trainers(\/|$)/, 'A trainer key may change its own trainer (PATCH /trainers/<its id>), not create or delete trainers.'],
];

function normalized(method: string, path: string): { method: string; path: string } {
  return { method: method === 'HEAD' ? 'GET' : method, path: path.length > 1 ? path.replace(/\/$/, '') : path };
}

/** True when a trainer key may call `method path` at all (for its own trainer); for the OpenAPI document. */
export function trainerMayCall(method: string, path: string): boolean {
  const request = normalized(method, path);
  return ALLOWED.some((rule) => rule.method === request.method && rule.path.test(request.path));
}

/** Why the key of `trainer` may not make this request, or `undefined` when it may (the handler checks the rest). */
export function trainerRefusal(method: string, path: string, trainer: string): string | undefined {
  const request = normalized(method, path);
  for (const rule of ALLOWED) {
    if (rule.method !== request.method) continue;
    const match = rule.path.exec(request.path);
    if (!match) continue;
    if (rule.self && match[1] !== trainer) return `A trainer key acts only for its own trainer ("${trainer}"), not for "${match[1]}".`;
    return undefined;
  }
  const line = `${request.method} ${request.path}`;
  return REFUSALS.find(([pattern]) => pattern.test(line))?.[1] ?? `A trainer key may not ${line}: it acts only for its own trainer, its Pokémon and its offers.`;
}
