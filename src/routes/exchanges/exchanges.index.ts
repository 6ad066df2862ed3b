import { createRouter } from '../../platform/router.ts';
import * as handlers from './exchanges.handlers.ts';
import * as routes from './exchanges.routes.ts';

export const exchangeRoutes = createRouter()
  .openapi(routes.createExchange, handlers.createExchange)
  .openapi(routes.listExchanges, handlers.listExchanges)
  .openapi(routes.getExchange, handlers.getExchange);
