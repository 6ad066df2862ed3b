import { createRouter } from '../../platform/router.ts';
import * as handlers from './offers.handlers.ts';
import * as routes from './offers.routes.ts';

export const offerRoutes = createRouter()
  .openapi(routes.createOffer, handlers.createOffer)
  .openapi(routes.listOffers, handlers.listOffers)
  .openapi(routes.getOffer, handlers.getOffer)
  .openapi(routes.acceptOffer, handlers.acceptOffer)
  .openapi(routes.declineOffer, handlers.declineOffer)
  .openapi(routes.withdrawOffer, handlers.withdrawOffer);
