import { createRouter } from '../../platform/router.ts';
import { problemTypeHandler } from './problems.handlers.ts';
import { getProblemType } from './problems.routes.ts';

export const problemRoutes = createRouter().openapi(getProblemType, problemTypeHandler);
