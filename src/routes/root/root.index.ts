import { createRouter } from '../../platform/router.ts';
import { indexHandler } from './root.handlers.ts';
import { getIndex } from './root.routes.ts';

export const rootRoutes = createRouter().openapi(getIndex, indexHandler);
