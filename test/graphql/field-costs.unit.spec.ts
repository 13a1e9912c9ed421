import { parse } from 'graphql';
import { fieldExtensionsEstimator, getComplexity, simpleEstimator } from 'graphql-query-complexity';
import { backplaneSchema } from '../../src/graphql/schema';
import { TASKS_LISTED } from '../../src/queries/tasks';

/** Fields whose cost is not what their type says carry their own price, for an estimator that reads field extensions. */
describe('the price a field states', () => {
  it('prices a plan’s tasks as the list it can be, not as a list of a few', async () => {
    const schema = await backplaneSchema();
    const query = parse('query { tasks(planId: "p") { id status } }');
    const complexity = getComplexity({ schema, query, variables: {}, estimators: [fieldExtensionsEstimator(), simpleEstimator({ defaultComplexity: 1 })] });
    expect(complexity).toBe(1 + TASKS_LISTED * 2);
  });
});
