import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const ROOT = resolve(__dirname, '..');

function sources(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** A folder of src/ (or a file at its top, or the read models beside it): the unit imports are judged by. */
function moduleOf(path: string): string {
  const parts = relative(ROOT, path).split(sep);
  if (parts[0] !== 'src') return parts[0];
  return parts.length > 2 ? `src/${parts[1]}` : `src/${parts[1].replace(/\.ts$/, '')}`;
}

interface Import {
  from: string;
  to: string;
}

/** Every relative import and re-export, static or dynamic, as a pair of files. */
function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]*)['"]/g)].map((match) => match[1]);
  return specifiers.map((specifier) => ({ from: file, to: resolve(dirname(file), specifier) }));
}

const files = [...sources(join(ROOT, 'src')), ...sources(join(ROOT, 'projections'))];
const imports = files.flatMap(importsOf);

/** Module to the modules it imports, each with one file that does, to name in a failure. */
function moduleGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const { from, to } of imports) {
    const [a, b] = [moduleOf(from), moduleOf(to)];
    if (a === b) continue;
    if (!graph.has(a)) graph.set(a, new Map());
    graph.get(a)!.set(b, relative(ROOT, from));
  }
  return graph;
}

/** Each cycle once, as the path that closes it, with a file for each step. */
function cycles(graph: Map<string, Map<string, string>>): string[] {
  const found = new Set<string>();
  const walk = (path: string[]) => {
    for (const [next, file] of graph.get(path.at(-1)!) ?? []) {
      const at = path.indexOf(next);
      if (at >= 0) {
        const loop = path.slice(at);
        const start = loop.indexOf([...loop].sort()[0]);
        found.add([...loop.slice(start), ...loop.slice(0, start)].join(' -> '));
      } else if (path.length < 12) walk([...path, next]);
      void file;
    }
  };
  for (const module of graph.keys()) walk([module]);
  return [...found].sort();
}

const importsFrom = (module: string) => imports.filter((item) => moduleOf(item.from) === module);
const named = (items: Import[]) => items.map((item) => `${relative(ROOT, item.from)} imports ${relative(ROOT, item.to)}`);

describe('the direction of imports', () => {
  it('has no cycle between the folders of src/', () => {
    expect(cycles(moduleGraph())).toEqual([]);
  });

  it('keeps the domain to itself, but for the coded error every layer shares', () => {
    // src/errors.ts imports nothing: the code a refusal carries is the one thing the domain shares.
    const allowed = ['src/domain', 'src/errors'];
    expect(named(importsFrom('src/domain').filter((item) => !allowed.includes(moduleOf(item.to))))).toEqual([]);
  });

  it('leaves the error kernel importing nothing of src/', () => {
    expect(named(importsFrom('src/errors'))).toEqual([]);
  });

  it('lets GraphQL reach the store, the database, GitLab and the vault only through use cases and queries', () => {
    const edges = ['src/eventstore', 'src/sql', 'src/gitlab', 'src/secrets', 'projections'];
    expect(named(importsFrom('src/graphql').filter((item) => edges.includes(moduleOf(item.to))))).toEqual([]);
  });

  it('loads the clients of EventStoreDB, S3 and SMTP only where they are used, not with the embedded default', () => {
    // Each may be imported for its types anywhere; its values only by the files that use it, and
    // those files only by require() where a store, a bucket or a mail needs them, in the one file
    // that does so. The configuration reads an EventStoreDB connection string whatever the store:
    // connection-string.ts requires the client's parser when it reads one. Relative paths are
    // judged as the file they name.
    const posix = (path: string) => path.split(sep).join('/');
    const esdbAdapter = (path: string) => path.startsWith('src/eventstore/esdb/') && path !== 'src/eventstore/esdb/connection-string';
    const heavy: { name: string; is: (target: string) => boolean; usedBy: (at: string) => boolean; requiredBy: string }[] = [
      {
        name: 'the EventStoreDB client',
        is: (t) => t.startsWith('@eventstore/db-client'),
        usedBy: esdbAdapter,
        requiredBy: 'src/eventstore/esdb/connection-string',
      },
      { name: "EventStoreDB's adapter", is: esdbAdapter, usedBy: esdbAdapter, requiredBy: 'src/backplane' },
      { name: 'the S3 client', is: (t) => t.startsWith('@aws-sdk/'), usedBy: (at) => at === 'src/storage/s3-storage', requiredBy: '' },
      { name: 'the S3 storage', is: (t) => t === 'src/storage/s3-storage', usedBy: () => false, requiredBy: 'src/backup-places' },
      { name: 'the mailer', is: (t) => t === 'nodemailer', usedBy: () => false, requiredBy: 'src/app/notifications/senders' },
    ];
    const eager = files.flatMap((file) => {
      const text = readFileSync(file, 'utf8');
      // Without its extension, as an import names it.
      const at = posix(relative(ROOT, file)).replace(/\.ts$/, '');
      const target = (specifier: string) => (specifier.startsWith('.') ? posix(relative(ROOT, resolve(dirname(file), specifier))) : specifier);
      const found = (pattern: RegExp) => [...text.matchAll(pattern)].map((match) => target(match[1]));
      // import … from, export … from, a bare import and import x = require(): all but types.
      const imported = found(/^\s*(?:(?:import|export)\s+(?!type\b)[^;]*?\bfrom\s+|import\s+|import\s+\w+\s*=\s*require\(\s*)['"]([^'"]+)['"]/gm);
      const required = found(/\brequire\(\s*['"]([^'"]+)['"]/g);
      return [
        ...imported.flatMap((t) => heavy.filter((h) => h.is(t) && !h.usedBy(at)).map((h) => `${at} imports ${h.name} (${t})`)),
        ...required.flatMap((t) => heavy.filter((h) => h.is(t) && !h.usedBy(at) && h.requiredBy !== at).map((h) => `${at} requires ${h.name} (${t})`)),
      ];
    });
    expect(eager).toEqual([]);
  });

  it('gives resolvers no handle on the store or the database', () => {
    const graphql = files.filter((file) => moduleOf(file) === 'src/graphql' && !file.endsWith(`${sep}context.ts`));
    const handles = graphql.filter((file) => /\bapp\.(store|db)\b|\{[^}]*\b(store|db)\b[^}]*\}\s*=\s*context\.app\b/.test(readFileSync(file, 'utf8')));
    expect(handles.map((file) => relative(ROOT, file))).toEqual([]);
  });
});
