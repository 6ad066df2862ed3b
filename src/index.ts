import { createApp } from './app.ts';

const app = createApp();

/** The API's type, for a typed `hono/client`: `hc<AppType>(baseUrl)`. */
export type AppType = typeof app;

export default app;
