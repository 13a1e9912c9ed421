export function testDatabaseUrl(): string {
  return process.env.BACKPLANE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
}
