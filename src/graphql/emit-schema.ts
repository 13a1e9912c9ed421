import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { backplaneSchema } from './schema';

/** npm runs scripts from the package's root. */
export const SCHEMA_FILE = resolve(process.cwd(), 'schema', 'schema.graphql');

/** The schema as SDL, sorted so that the file changes only when the API does. */
export async function schemaText(): Promise<string> {
  return `${printSchema(lexicographicSortSchema(await backplaneSchema()))}\n`;
}

// `npm run schema` writes schema/schema.graphql; a test fails when the file and the code differ.
if (require.main === module) {
  schemaText()
    .then((text) => writeFile(SCHEMA_FILE, text))
    .then(() => process.stdout.write(`wrote ${SCHEMA_FILE}\n`));
}
