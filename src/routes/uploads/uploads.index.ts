import { createRouter } from '../../platform/router.ts';
import * as handlers from './uploads.handlers.ts';
import * as routes from './uploads.routes.ts';

export const uploadRoutes = createRouter()
  .openapi(routes.createUpload, handlers.createUpload)
  .openapi(routes.getUpload, handlers.getUpload)
  .openapi(routes.appendUpload, handlers.appendUpload)
  .openapi(routes.commitUpload, handlers.commitUpload)
  .openapi(routes.deleteUpload, handlers.deleteUpload);
