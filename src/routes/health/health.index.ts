import { createRouter } from '../../platform/router.ts';
import { healthHandler } from './health.handlers.ts';
import { getHealth } from './health.routes.ts';

export const healthRoutes = createRouter().openapi(getHealth, healthHandler);
