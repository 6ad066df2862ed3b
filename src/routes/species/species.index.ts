import { createRouter } from '../../platform/router.ts';
import * as handlers from './species.handlers.ts';
import * as routes from './species.routes.ts';

export const speciesRoutes = createRouter()
  .openapi(routes.listSpecies, handlers.listSpecies)
  .openapi(routes.getSpecies, handlers.getSpecies);
