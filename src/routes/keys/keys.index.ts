import { createRouter } from '../../platform/router.ts';
import * as handlers from './keys.handlers.ts';
import * as routes from './keys.routes.ts';

export const keyRoutes = createRouter()
  .openapi(routes.createKey, handlers.createKey)
  .openapi(routes.listKeys, handlers.listKeys)
  .openapi(routes.getKey, handlers.getKey)
  .openapi(routes.revokeKey, handlers.revokeKey);
