/** Polls until the check passes or the time is up; the last failure is rethrown. */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 15000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  }
}
