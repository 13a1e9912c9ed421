import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { minVersion, satisfies } from 'semver';

/** Every installed package, nested ones too: npm warns (EBADENGINE) for any whose engines refuse the Node that runs it. */
function installedPackages(dir: string): { path: string; engines?: { node?: unknown } }[] {
  if (!existsSync(dir)) return [];
  const found: { path: string; engines?: { node?: unknown } }[] = [];
  for (const name of readdirSync(dir)) {
    if (name.startsWith('.')) continue;
    const path = join(dir, name);
    if (name.startsWith('@')) {
      found.push(...installedPackages(path));
      continue;
    }
    const manifest = join(path, 'package.json');
    if (existsSync(manifest)) found.push({ path, engines: JSON.parse(readFileSync(manifest, 'utf8')).engines });
    found.push(...installedPackages(join(path, 'node_modules')));
  }
  return found;
}

describe('engines', () => {
  const root = join(__dirname, '..');
  const declared: string = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).engines.node;

  it('accepts, in every installed package, the oldest Node the project declares', () => {
    const oldest = minVersion(declared)!.version;
    const packages = installedPackages(join(root, 'node_modules'));
    expect(packages.length).toBeGreaterThan(100);
    const refusing = packages
      .filter(({ engines }) => typeof engines?.node === 'string' && !satisfies(oldest, engines.node))
      .map(({ path, engines }) => `${path.slice(root.length + 1)} wants node ${engines!.node}`);
    expect({ oldest, refusing }).toEqual({ oldest, refusing: [] });
  });

  it('builds the production image on the Node line the project declares', () => {
    const image = /^FROM node:(\d+)/m.exec(readFileSync(join(root, 'Dockerfile'), 'utf8'))?.[1];
    expect(image).toBeDefined();
    expect(satisfies(`${image}.99.99`, declared)).toBe(true);
  });
});
