import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVICE_MAIN, serviceNodeOptions } from './support/start-command';

/**
 * The production image, read from its Dockerfile: no container engine runs where the tests do.
 * It ships the service and its production dependencies, never the test doubles or benchmarks.
 */
interface Stage {
  name?: string;
  instructions: string[];
}

const root = join(__dirname, '..');

function stages(dockerfile: string): Stage[] {
  const lines = dockerfile
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const found: Stage[] = [];
  for (const line of lines) {
    const from = /^FROM\s+\S+(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) found.push({ name: from[1], instructions: [] });
    else found.at(-1)?.instructions.push(line);
  }
  return found;
}

/** The sources of each COPY or ADD, with the stage they come from (undefined: the build context). */
function copies(stage: Stage): { from?: string; sources: string[] }[] {
  return stage.instructions
    .filter((line) => /^(COPY|ADD)\s/i.test(line))
    .map((line) => {
      const words = line.split(/\s+/).slice(1);
      const from = words.find((word) => word.startsWith('--from='))?.slice('--from='.length);
      const paths = words.filter((word) => !word.startsWith('--'));
      return { from, sources: paths.slice(0, -1) };
    });
}

const isTestOrBench = (path: string) => /^(\.\/|\/app\/)?(test|bench)(\/|$)/.test(path);

describe('the production image', () => {
  const all = stages(readFileSync(join(root, 'Dockerfile'), 'utf8'));
  const final = all.at(-1)!;

  it('copies into its final stage only the compiled service, its manifest and production dependencies', () => {
    expect(all.length).toBeGreaterThan(0);
    const sources = copies(final).flatMap(({ sources }) => sources);
    expect(sources.filter(isTestOrBench)).toEqual([]);
    expect(copies(final).filter(({ from }) => from === undefined)).toEqual([]);
    for (const source of sources) expect(source).toMatch(/^\/app\/(package\.json|node_modules|dist\/src|dist\/projections|dist\/console)$/);
  });

  it('starts the service as npm start does, with the same Node options', () => {
    const options = serviceNodeOptions(root);
    // What package.json gives: a young generation kept small (see the README, The embedded store's memory).
    expect(options).toContain('--max-semi-space-size=4');
    const cmds = final.instructions.filter((line) => /^CMD\s/i.test(line));
    expect(cmds).toHaveLength(1);
    expect(JSON.parse(cmds[0].replace(/^CMD\s+/i, ''))).toEqual(['node', ...options, SERVICE_MAIN]);
  });

  it('brings no test or benchmark file into any stage', () => {
    for (const stage of all)
      expect(
        copies(stage)
          .flatMap(({ sources }) => sources)
          .filter(isTestOrBench),
      ).toEqual([]);
  });

  it('compiles with a tsconfig that includes only src and projections, and prunes dev dependencies', () => {
    const build = all.find((stage) => stage.name !== undefined && final.instructions.some((line) => line.includes(`--from=${stage.name} `)));
    expect(build).toBeDefined();
    const runs = build!.instructions.filter((line) => line.startsWith('RUN ')).join('\n');
    const project = /\btsc -p (\S+)/.exec(runs)?.[1];
    expect(project).toBeDefined();
    expect(copies(build!).flatMap(({ sources }) => sources)).toContain(project);
    const tsconfig = JSON.parse(readFileSync(join(root, project!), 'utf8'));
    expect([...tsconfig.include].sort()).toEqual(['projections', 'src']);
    expect(tsconfig.files).toBeUndefined();
    expect(runs).toMatch(/npm prune --omit=dev/);
  });

  it('bundles the console in the build stage, before dev dependencies are pruned, and ships it', () => {
    const build = all.find((stage) => stage.name !== undefined && final.instructions.some((line) => line.includes(`--from=${stage.name} `)));
    expect(build).toBeDefined();
    const runs = build!.instructions.filter((line) => line.startsWith('RUN ')).join(' && ');
    // The script bundles with esbuild, a dev dependency, so it must run before the prune.
    const bundles = runs.search(/\bnode scripts\/build-console\.mjs\b|\bnpm run build:console\b/);
    expect(bundles).toBeGreaterThanOrEqual(0);
    expect(bundles).toBeLessThan(runs.search(/npm prune --omit=dev/));
    const built = copies(build!).flatMap(({ sources }) => sources);
    expect(built).toContain('scripts/build-console.mjs');
    expect(built).toContain('src');
    expect(copies(final)).toContainEqual({ from: build!.name, sources: ['/app/dist/console'] });
  });

  it('installs the git client and the certificate authorities its HTTPS fetches need', () => {
    const runs = final.instructions.filter((line) => line.startsWith('RUN ')).join('\n');
    expect(runs).toMatch(/apt-get install -y --no-install-recommends [^\n]*\bgit\b/);
    expect(runs).toMatch(/\bca-certificates\b/);
  });
});
