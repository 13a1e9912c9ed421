import { getIntrospectionQuery } from 'graphql';
import { useTestApi } from '../support/use-test-api';

/** GraphiQL loads the schema with the standard introspection query: the query limits must let it through, and only once per request. */
describe('introspection under the query limits, on pglite', () => {
  const api = useTestApi();

  it.each([
    ['as GraphiQL asks first', { inputValueDeprecation: true, descriptions: true }],
    ['without input value deprecation', { descriptions: true }],
  ])('answers the standard introspection query, %s', async (_name, options) => {
    const response = await api().request<{ __schema: { queryType: { name: string }; types: unknown[] } }>(api().rootToken, getIntrospectionQuery(options));
    expect(response.errors).toBeUndefined();
    expect(response.data?.__schema.queryType.name).toBe('Query');
    expect(response.data?.__schema.types.length).toBeGreaterThan(20);
  });

  it('still refuses the whole schema asked for many times over in one request', async () => {
    const [operation, ...fragments] = getIntrospectionQuery().split(/(?=\bfragment )/);
    const schema = operation!.slice(operation!.indexOf('{') + 1, operation!.lastIndexOf('}')).trim();
    const aliases = Array.from({ length: 100 }, (_, index) => `s${index}: ${schema}`);
    const response = await api().request(api().rootToken, `{ ${aliases.join(' ')} } ${fragments.join('')}`);
    // Past the parser's 2000 tokens, before it is validated or priced.
    expect(response.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(response.errors?.[0]?.message).toMatch(/2000 tokens/);
  });
});
