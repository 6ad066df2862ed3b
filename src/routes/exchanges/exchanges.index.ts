import { createRouter } from '../../platform/router.ts';

export const exchangeRoutes = createRouter();
