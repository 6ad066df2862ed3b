import { createRouter } from '../../platform/router.ts';

export const uploadRoutes = createRouter();
