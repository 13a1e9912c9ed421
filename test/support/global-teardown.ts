import { removePgliteTemplate } from './pglite-template';
import { removeRunTmpdir } from './run-tmpdir';

export default async function globalTeardown(): Promise<void> {
  removePgliteTemplate();
  removeRunTmpdir();
}
