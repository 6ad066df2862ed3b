import { createRouter } from '../../platform/router.ts';
import * as handlers from './trainers.handlers.ts';
import * as routes from './trainers.routes.ts';

export const trainerRoutes = createRouter()
  .openapi(routes.createTrainer, handlers.createTrainer)
  .openapi(routes.listTrainers, handlers.listTrainers)
  .openapi(routes.getTrainer, handlers.getTrainer)
  .openapi(routes.updateTrainer, handlers.updateTrainer)
  .openapi(routes.deleteTrainer, handlers.deleteTrainer);
