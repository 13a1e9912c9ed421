import type { GraphQLContext } from '../context';

const runs = new WeakMap<GraphQLContext, Map<string, Promise<unknown>>>();

/**
 * The first call of a request runs `work`; every later one with the same key shares its answer.
 * A field that costs the same whatever its arguments (a walk of the whole log) is then paid once
 * per request, however many aliases ask for it.
 */
export function oncePerRequest<T>(context: GraphQLContext, key: string, work: () => Promise<T>): Promise<T> {
  let request = runs.get(context);
  if (!request) {
    request = new Map();
    runs.set(context, request);
  }
  if (!request.has(key)) request.set(key, work());
  return request.get(key) as Promise<T>;
}
