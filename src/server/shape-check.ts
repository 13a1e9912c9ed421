import type { RequestHandler } from 'express';
import { GraphQLError, parse } from 'graphql';
import { checkShape, parseOptions, type QueryLimits } from '../graphql/limits';

/**
 * Refuses, before Apollo validates it, a document whose shape would make validation itself long
 * (checkShape). A document that does not parse is left to Apollo, which answers it as usual.
 */
export function shapeCheck(limits: QueryLimits): RequestHandler {
  return (req, res, next) => {
    // POST bodies, and GET's query string, which Apollo serves too.
    const query: unknown = req.body?.query ?? req.query?.query;
    if (typeof query !== 'string') return next();
    try {
      checkShape(parse(query, parseOptions(limits)));
    } catch (error) {
      if (error instanceof GraphQLError && error.extensions?.code === 'QUERY_TOO_COMPLEX') {
        res.status(400).json({ errors: [{ message: error.message, extensions: { code: 'QUERY_TOO_COMPLEX' } }] });
        return;
      }
    }
    next();
  };
}
