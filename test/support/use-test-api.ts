import { startTestApi, testStorage, type StoreName, type TestApi } from './api-server';

/** A service started before the suite's tests and stopped after them; the function returned gives the running one. */
export function useTestApi(store: StoreName = 'pglite'): () => TestApi {
  let api: TestApi | undefined;
  let dispose = async () => {};
  beforeAll(async () => {
    const storage = await testStorage(store);
    dispose = () => storage.dispose();
    api = await startTestApi(storage);
  });
  afterAll(async () => {
    await api?.close();
    await dispose();
  });
  return () => {
    if (!api) throw new Error('the test API has not started');
    return api;
  };
}
