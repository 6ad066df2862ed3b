import { createRouter } from '../../platform/router.ts';
import { validationHookWith } from '../../platform/validation.ts';
import * as handlers from './pokemon.handlers.ts';
import * as routes from './pokemon.routes.ts';

export const pokemonRoutes = createRouter()
  .openapi(routes.createPokemon, handlers.createPokemon, validationHookWith(handlers.pokemonReferences))
  .openapi(routes.listPokemon, handlers.listPokemon)
  .openapi(routes.listTrainerPokemon, handlers.listTrainerPokemon)
  .openapi(routes.getPokemon, handlers.getPokemon)
  .openapi(routes.updatePokemon, handlers.updatePokemon, validationHookWith(handlers.pokemonReferences))
  .openapi(routes.deletePokemon, handlers.deletePokemon)
  .openapi(routes.getOwnershipHistory, handlers.getOwnershipHistory);
