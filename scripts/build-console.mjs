// @ts-check
/**
 * Bundles the console (src/console) into dist/console with esbuild from node_modules: nothing is
 * fetched, so it builds where no registry or CDN can be reached. Each asset is also written
 * gzip- and brotli-compressed, so that the server sends them without compressing per request.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'dist', 'console');

export async function buildConsole() {
  // Built beside, then moved into place, so that a running server never serves half a bundle.
  const staging = `${target}.${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  await build({
    absWorkingDir: root,
    entryPoints: { app: 'src/console/main.tsx' },
    tsconfig: 'src/console/tsconfig.json',
    bundle: true,
    minify: true,
    format: 'iife',
    target: ['chrome109', 'firefox115', 'safari16'],
    jsx: 'automatic',
    define: { 'process.env.NODE_ENV': '"production"' },
    legalComments: 'none',
    outdir: staging,
    logLevel: 'warning',
  });
  await writeFile(join(staging, 'favicon.svg'), await readFile(join(root, 'src', 'console', 'favicon.svg')));
  for (const name of await readdir(staging)) {
    const body = await readFile(join(staging, name));
    await writeFile(join(staging, `${name}.gz`), gzipSync(body, { level: 9 }));
    await writeFile(join(staging, `${name}.br`), brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
  }
  await rm(target, { recursive: true, force: true });
  await rename(staging, target);
  return target;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = await buildConsole();
  process.stdout.write(`Console built in ${out}\n`);
}
