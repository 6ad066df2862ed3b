/** Where the CLI tests' dev stack listens (ports of the range kept for them) and its admin key. */
export const STACK = {
  apiPort: 8851,
  neonPort: 8852,
  upstashPort: 8853,
  /** The test proxy in front of the API (see cli.test.ts). */
  proxyPort: 8854,
  /** Nothing listens here: the unreachable API. */
  closedPort: 8859,
  adminKey: 'cli-test-admin-key-0123456789abcdef0123456789',
} as const;

export const API_URL = `http://127.0.0.1:${STACK.apiPort}`;
