import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { periodsRange } from '../../src/app/audit-export-periods';
import { verifyBundle } from '../../src/audit-export/verify-bundle';
import { apiStores, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { spawnTs } from '../support/child';
import { eventually } from '../support/eventually';
import { buildScenario, ops, type Scenario } from '../support/scenario';
import { canon, compare, position, sha, thirdPartyVerify } from './third-party-verifier';

const CREATE_DIGEST = 'mutation { createAuditDigest { __typename } }';

const CLI = join(__dirname, '..', '..', 'src', 'cli.ts');

describe.each(apiStores)('GET /audit/export on %s', (store) => {
  let storage: TestStorage;
  let api: TestApi;
  let s: Scenario;
  let exportUrl: string;
  let auditor: string;
  let folder: string;
  const tokens: Record<string, string> = {};

  const get = (token: string | null, params: Record<string, string> | string = {}) =>
    fetch(`${exportUrl}?${new URLSearchParams(params)}`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
  const text = async (token: string, params: Record<string, string>) => {
    const response = await get(token, params);
    expect(response.status).toBe(200);
    return response.text();
  };
  const jsonl = async (token: string, params: Record<string, string> = {}) =>
    (await text(token, { format: 'jsonl', ...params }))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));
  const bundle = async (token: string, params: Record<string, string> = {}) => {
    const response = await get(token, { format: 'bundle', ...params });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/gzip');
    const path = join(folder, `bundle-${Math.random().toString(36).slice(2)}.tar.gz`);
    writeFileSync(path, Buffer.from(await response.arrayBuffer()));
    return path;
  };
  /** Unpacks a bundle, lets `edit` change its files (anchor.json: null when absent, or to remove it), and packs it again with tar. */
  const tampered = (path: string, edit: (files: { events: string[]; digests: string[]; manifest: Record<string, unknown>; anchor: string | null }) => void) => {
    const dir = mkdtempSync(join(folder, 'edit-'));
    execFileSync('tar', ['-xzf', path, '-C', dir]);
    const events = readFileSync(join(dir, 'events.jsonl'), 'utf8').split('\n').filter(Boolean);
    const digests = readFileSync(join(dir, 'digests.jsonl'), 'utf8').split('\n').filter(Boolean);
    const manifest = JSON.parse(readFileSync(join(dir, 'export.json'), 'utf8'));
    const anchorPath = join(dir, 'anchor.json');
    const files = { events, digests, manifest, anchor: existsSync(anchorPath) ? readFileSync(anchorPath, 'utf8') : null };
    edit(files);
    writeFileSync(join(dir, 'export.json'), JSON.stringify(manifest));
    const lines = (list: string[]) => list.map((line) => `${line}\n`).join('');
    writeFileSync(join(dir, 'events.jsonl'), lines(events));
    writeFileSync(join(dir, 'digests.jsonl'), lines(digests));
    if (files.anchor === null) rmSync(anchorPath, { force: true });
    else writeFileSync(anchorPath, files.anchor);
    const out = `${dir}.tar.gz`;
    const anchor = files.anchor === null ? [] : ['anchor.json'];
    execFileSync('tar', ['-czf', out, '-C', dir, 'VERIFY.md', 'export.json', 'keys.json', ...anchor, 'digests.jsonl', 'events.jsonl']);
    return out;
  };
  const planLines = (events: string[]) =>
    events.map((line, index) => ({ index, event: JSON.parse(line) })).filter(({ event }) => event.stream === `plan-${s.planId}`);

  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'audit-export-'));
    storage = await testStorage(store);
    api = await startTestApi(storage);
    exportUrl = new URL('/audit/export', api.url).toString();
    s = await buildScenario(api, api.rootToken);
    for (const role of ['AUDITOR', 'VIEWER', 'OPERATOR']) {
      const { createApiToken } = await api.ok(api.rootToken, ops.createApiToken, { name: `export ${role}`, role });
      tokens[role] = createApiToken.token;
    }
    auditor = tokens.AUDITOR;
    // A plan stream several events long, for the tampering below.
    for (const enabled of [false, true, false]) {
      await api.ok(api.rootToken, ops.togglePlanCredential, { planId: s.planId, credentialId: s.credentialIds[0], enabled });
    }
  }, 120_000);
  afterAll(async () => {
    await api?.close();
    await storage?.dispose();
    rmSync(folder, { recursive: true, force: true });
  });

  it('answers 401 without a valid token and 403 to roles that may not read the history', async () => {
    expect((await get(null)).status).toBe(401);
    const unknown = await get('bpk_test_unknown');
    expect(unknown.status).toBe(401);
    expect(((await unknown.json()) as any).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    for (const role of ['VIEWER', 'OPERATOR']) {
      const response = await get(tokens[role]);
      expect(response.status).toBe(403);
      expect(((await response.json()) as any).errors[0].extensions.code).toBe('FORBIDDEN');
    }
    expect((await get(auditor)).status).toBe(200);
    expect((await get(api.rootToken)).status).toBe(200);
    const head = await fetch(exportUrl, { method: 'HEAD', headers: { authorization: `Bearer ${auditor}` } });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    const bundleHead = await fetch(`${exportUrl}?format=bundle`, { method: 'HEAD', headers: { authorization: `Bearer ${auditor}` } });
    expect(bundleHead.status).toBe(200);
    expect(bundleHead.headers.get('content-type')).toBe('application/gzip');
    expect(bundleHead.headers.get('content-disposition')).toMatch(/^attachment; filename="audit-\S+\.tar\.gz"$/);
  });

  it.each([
    ['format', { format: 'xml' }],
    ['from', { from: 'yesterday' }],
    ['to', { to: '10000-01-01T00:00:00Z' }],
    ['to', { from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' }],
    ['types', { types: 'Plan Created' }],
    ['planId', { planId: 'a\u0000b' }],
    ['colour', { colour: 'blue' }],
  ])('answers 400 BAD_USER_INPUT naming %s', async (param, params) => {
    const response = await get(auditor, params as Record<string, string>);
    expect(response.status).toBe(400);
    const body = (await response.json()) as any;
    expect(body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(Object.keys(body.errors[0].extensions.fields)).toEqual([param]);
  });

  it('answers 400 BAD_USER_INPUT naming a parameter whose bytes are not UTF-8, and records nothing', async () => {
    const before = await api.service.backplane.store.headPosition();
    for (const [param, query] of [
      ['organizationId', 'organizationId=%ff'],
      ['planId', 'format=csv&planId=%ED%A0%80'],
      ['types', 'types=PlanCreated,%C3'],
      ['query', '%ff=1'],
    ]) {
      // Sent as written: URLSearchParams would make the bytes U+FFFD before they leave.
      const response = await fetch(`${exportUrl}?${query}`, { headers: { authorization: `Bearer ${auditor}` } });
      expect([param, response.status]).toEqual([param, 400]);
      const body = (await response.json()) as any;
      expect(body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
      expect(Object.keys(body.errors[0].extensions.fields)).toEqual([param]);
    }
    expect(await api.service.backplane.store.headPosition()).toBe(before);
  });

  it('answers 400 for a parameter given twice', async () => {
    const response = await get(auditor, 'format=csv&format=jsonl');
    expect(response.status).toBe(400);
    expect(((await response.json()) as any).errors[0].extensions.fields).toHaveProperty('format');
  });

  it('exports every event of the tenant as JSON lines, in log order, as recorded', async () => {
    const response = await get(auditor, { format: 'jsonl' });
    expect(response.status).toBe(200);
    const exportId = response.headers.get('x-backplane-export-id');
    const lines = (await response.text())
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));
    // What the export covered, then its own record: who took the history away, in which format, with which filters.
    const { before, record } = await eventually(async () => {
      const { auditLog } = await api.ok(auditor, ops.auditLog, { first: 500 });
      const nodes = auditLog.edges.map((edge: any) => edge.node);
      const at = nodes.findIndex((node: any) => node.type === 'AuditHistoryExported' && node.data.exportId === exportId);
      expect(at).toBeGreaterThan(0);
      return { before: nodes.slice(0, at), record: nodes[at] };
    });
    expect(lines.map((line) => line.id)).toEqual(before.map((node: any) => node.id));
    expect(record.actor.role).toBe('AUDITOR');
    expect(record.data).toMatchObject({ exportId, format: 'jsonl', filters: { from: null, types: null, planId: null } });
    expect(Object.keys(lines[0])).toEqual(['id', 'type', 'data', 'metadata', 'stream', 'revision', 'position', 'recordedAt', 'previousHash', 'hash']);
    const toggles = lines.filter((line) => line.stream === `plan-${s.planId}`);
    expect(toggles.map((line) => line.revision)).toEqual(toggles.map((_line, index) => index));
    for (const [index, line] of toggles.entries()) expect(line.previousHash).toBe(index === 0 ? '0'.repeat(64) : toggles[index - 1].hash);
    expect(lines.every((line) => line.metadata.tenantId === lines[0].metadata.tenantId)).toBe(true);
  });

  it('filters as auditLog does', async () => {
    const toggles = await jsonl(auditor, { types: 'PlanCredentialToggled', planId: s.planId });
    expect(toggles.length).toBeGreaterThanOrEqual(4);
    expect(toggles.every((line) => line.type === 'PlanCredentialToggled' && line.data.planId === s.planId)).toBe(true);
    const { auditLog } = await api.ok(auditor, ops.auditLog, { first: 500, filter: { types: ['PlanCredentialToggled'], planId: s.planId } });
    expect(toggles.map((line) => line.id)).toEqual(auditLog.edges.map((edge: any) => edge.node.id));
    const all = await jsonl(auditor);
    const middle = all[Math.floor(all.length / 2)];
    const fromMiddle = await jsonl(auditor, { from: middle.metadata.occurredAt });
    expect(fromMiddle.length).toBeLessThan(all.length);
    expect(fromMiddle.every((line) => line.metadata.occurredAt >= middle.metadata.occurredAt)).toBe(true);
    expect(await jsonl(auditor, { to: '2000-01-01T00:00:00Z' })).toEqual([]);
  });

  it('exports CSV with the columns a spreadsheet reader wants, quoted and safe from formulas', async () => {
    // A token whose name a spreadsheet would run as a formula, acting: its name is the actor column.
    const { createApiToken } = await api.ok(api.rootToken, ops.createApiToken, { name: '=HYPERLINK("http://x","y")', role: 'ADMIN' });
    await api.ok(createApiToken.token, ops.storePassword, { input: { name: '+sum, "quoted"', secret: 'a-secret-of-sixteen-chars' } });
    const csv = await text(auditor, { format: 'csv', types: 'PasswordStored' });
    const [header, ...records] = csv.split('\r\n').filter(Boolean);
    expect(header).toBe('time,actor,role,type,organization,plan,credential,summary,correlation id,hash');
    const last = records.at(-1)!;
    expect(last).toContain(`"'=HYPERLINK(""http://x"",""y"")"`);
    expect(last).toContain(',ADMIN,PasswordStored,');
    expect(last).not.toContain('a-secret-of-sixteen-chars');
    expect(last).toMatch(/,[0-9a-f]{64}$/);
    const toggles = (await text(auditor, { format: 'csv', planId: s.planId, types: 'PlanCredentialToggled' })).split('\r\n').filter(Boolean).slice(1);
    expect(toggles.length).toBeGreaterThanOrEqual(4);
    expect(toggles.every((row) => row.includes(`,${s.planId},${s.credentialIds[0]},`) && /enabled: (true|false)/.test(row))).toBe(true);
  });

  it('never exports another tenant’s events', async () => {
    const { createTenant } = await api.ok(api.rootToken, ops.createTenant, { name: `other-${store}` });
    const other = createTenant.token;
    await api.ok(other, ops.createApiToken, { name: 'other auditor', role: 'AUDITOR' });
    const theirs = await jsonl(other);
    const ours = await jsonl(auditor);
    expect(theirs.length).toBeGreaterThan(0);
    const ourIds = new Set(ours.map((line) => line.id));
    expect(theirs.some((line) => ourIds.has(line.id))).toBe(false);
    expect(new Set(theirs.map((line) => line.metadata.tenantId)).size).toBe(1);
    expect(theirs[0].metadata.tenantId).not.toBe(ours[0].metadata.tenantId);
    expect(await jsonl(other, { planId: s.planId })).toEqual([]);
    expect((await text(other, { format: 'csv', organizationId: s.organizationId })).split('\r\n').filter(Boolean)).toHaveLength(1);
  });

  describe('bundle', () => {
    let intact: string;
    beforeAll(async () => {
      // Three signed digests, the plan's stream changing between them.
      await api.ok(api.rootToken, CREATE_DIGEST);
      await api.ok(api.rootToken, ops.togglePlanCredential, { planId: s.planId, credentialId: s.credentialIds[0], enabled: true });
      await api.ok(api.rootToken, CREATE_DIGEST);
      await api.ok(api.rootToken, ops.togglePlanCredential, { planId: s.planId, credentialId: s.credentialIds[0], enabled: false });
      await api.ok(api.rootToken, CREATE_DIGEST);
      intact = await bundle(auditor);
    }, 60_000);

    it('holds the events, digests, keys, the request and VERIFY.md', () => {
      const listing = execFileSync('tar', ['-tzf', intact], { encoding: 'utf8' }).split('\n').filter(Boolean);
      expect(listing).toEqual(['VERIFY.md', 'export.json', 'keys.json', 'digests.jsonl', 'events.jsonl']);
      const verify = execFileSync('tar', ['-xzOf', intact, 'VERIFY.md'], { encoding: 'utf8' });
      expect(verify).toContain('<previousHash>|<stream>|<revision>|<content hash>');
      expect(verify).toContain('openssl pkeyutl -verify -pubin -inkey key.pem -rawin -in payload.txt -sigfile sig.bin');
    });

    it('leaves no spooled events behind in the data folder', async () => {
      await bundle(auditor);
      const left = existsSync(api.service.app.backup.scratch) ? readdirSync(api.service.app.backup.scratch) : [];
      expect(left.filter((name) => name.startsWith('audit-export-'))).toEqual([]);
    });

    it('passes verify-export and the third-party verifier when untouched', async () => {
      const child = spawnTs(CLI, ['verify-export', intact]);
      expect(await child.exited).toBe(0);
      expect(child.output()).toMatch(/the export is intact: \d+ events in \d+ streams, [3-9] signed digests, [1-9]\d* signed stream heads matched/);
      expect(child.output()).toContain('a full export: every signed period holds exactly the events its digest counts and names');
      expect(child.output()).not.toContain('signed by none');
      expect(thirdPartyVerify(intact)).toBeNull();
    });

    it('fails when one event’s data was changed', async () => {
      let target: any;
      const path = tampered(intact, ({ events }) => {
        const { index, event } = planLines(events)[1];
        target = event;
        events[index] = JSON.stringify({ ...event, data: { ...event.data, enabled: !event.data.enabled } });
      });
      const child = spawnTs(CLI, ['verify-export', path]);
      expect(await child.exited).toBe(1);
      expect(child.output()).toContain(`TAMPERED: event ${target.id}`);
      expect(child.output()).toContain('its hash does not recompute: the event was altered');
      expect(thirdPartyVerify(path)).toBe(`event ${target.id}: hash mismatch`);
    });

    it('fails when an event was removed', async () => {
      let removed: any;
      const path = tampered(intact, ({ events }) => {
        const { index, event } = planLines(events)[2];
        removed = event;
        events.splice(index, 1);
      });
      const result = await verifyBundle(path);
      expect(result.ok).toBe(false);
      expect(result.problem).toContain(`revision ${removed.revision} of its stream is missing before it: an event was removed`);
      expect(thirdPartyVerify(path)).toMatch(/missing revision before it/);
    });

    /** The plan's stream in the file: its events, first to last (its last one is a head signed by the newest digest). */
    const planEvents = (events: string[]) => planLines(events).map(({ event }) => event);
    const removing = (pick: (plan: any[]) => any[]) =>
      tampered(intact, ({ events }) => {
        const gone = new Set(pick(planEvents(events)).map((event) => event.id));
        expect(gone.size).toBeGreaterThan(0);
        for (let index = events.length - 1; index >= 0; index -= 1) if (gone.has(JSON.parse(events[index]).id)) events.splice(index, 1);
      });

    it('fails when the event of a signed head was removed', async () => {
      const path = removing((plan) => [plan.at(-1)]);
      const result = await verifyBundle(path);
      expect(result.ok).toBe(false);
      expect(result.problem).toMatch(
        new RegExp(`^digest \\d+ \\(line \\d+ of digests.jsonl\\): (it signs \\d+ events|stream plan-${s.planId} ends at revision)`),
      );
      expect(thirdPartyVerify(path)).toMatch(/^digest \d+: /);
    });

    it('fails when a stream’s first event was removed from a full export', async () => {
      const path = removing((plan) => [plan[0]]);
      const result = await verifyBundle(path);
      expect(result.ok).toBe(false);
      expect(result.problem).toMatch(
        new RegExp(`stream plan-${s.planId} revision 1, .*: the export starts at the beginning of the history, so its stream must start at revision 0`),
      );
      expect(thirdPartyVerify(path)).toMatch(/: stream does not start at revision 0$/);
    });

    it('fails when a stream’s first and last events were removed', async () => {
      const path = removing((plan) => [plan[0], plan.at(-1)]);
      expect((await verifyBundle(path)).ok).toBe(false);
      expect(thirdPartyVerify(path)).not.toBeNull();
    });

    it('fails when all of a stream’s events were removed', async () => {
      const path = removing((plan) => plan);
      const result = await verifyBundle(path);
      expect(result.ok).toBe(false);
      expect(result.problem).toMatch(
        /^digest \d+ \(line \d+ of digests.jsonl\): it signs \d+ events of its period \(\S+ to \S+\), the file holds \d+: events were removed or added$/,
      );
      expect(thirdPartyVerify(path)).toMatch(/^digest \d+: event count/);
    });

    it('fails when digests.jsonl was emptied', async () => {
      const path = tampered(intact, ({ digests }) => {
        digests.splice(0, digests.length);
      });
      const result = await verifyBundle(path);
      expect(result.ok).toBe(false);
      expect(result.problem).toBe('digests.jsonl holds no digest: nothing in the bundle is signed');
      expect(thirdPartyVerify(path)).toBe('no digest');
    });

    it('fails when the first digests were removed from a full export', async () => {
      const path = tampered(intact, ({ digests }) => {
        digests.splice(0, 1);
      });
      const result = await verifyBundle(path);
      expect(result.problem).toMatch(
        /^digest 1 \(line 1 of digests.jsonl\): the export starts at the beginning of the history, so its first digest must name 64 zeros as previousDigestHash/,
      );
      expect(thirdPartyVerify(path)).toBe('digest 1: not the first digest');
    });

    it('says how many events no digest signs yet', async () => {
      await api.ok(api.rootToken, ops.togglePlanCredential, { planId: s.planId, credentialId: s.credentialIds[0], enabled: true });
      const path = await bundle(auditor);
      const result = await verifyBundle(path);
      expect(result.ok).toBe(true);
      expect(result.unsigned).toBeGreaterThanOrEqual(2);
      const child = spawnTs(CLI, ['verify-export', path]);
      expect(await child.exited).toBe(0);
      expect(child.output()).toContain(`${result.unsigned} events after the newest digest are signed by none`);
      expect(thirdPartyVerify(path)).toBeNull();
    });

    it('reads a bundle re-packed with tar -C dir . (./ names, events first) as intact, and refuses a file given twice', async () => {
      const dir = mkdtempSync(join(folder, 'repack-'));
      execFileSync('tar', ['-xzf', intact, '-C', dir]);
      const repacked = `${dir}.tar.gz`;
      // --hard-dereference: GNU tar would store the second copy as a link to the first.
      execFileSync('tar', ['--hard-dereference', '-czf', repacked, '-C', dir, './events.jsonl', '.']);
      expect(execFileSync('tar', ['-tzf', repacked], { encoding: 'utf8' })).toContain('./events.jsonl');
      const twice = await verifyBundle(repacked);
      expect(twice.problem).toBe('the bundle holds events.jsonl twice');
      const once = `${dir}-once.tar.gz`;
      execFileSync('tar', ['-czf', once, '-C', dir, './events.jsonl', './digests.jsonl', './keys.json', './export.json', './VERIFY.md']);
      const result = await verifyBundle(once);
      expect(result.problem).toBeNull();
      expect(result.ok).toBe(true);
    });

    it('fails when two events were swapped', async () => {
      let moved: any;
      const path = tampered(intact, ({ events }) => {
        const [, a, b] = planLines(events);
        moved = a.event;
        [events[a.index], events[b.index]] = [events[b.index], events[a.index]];
      });
      const result = await verifyBundle(path);
      expect(result.problem).toContain(`event ${moved.id}`);
      expect(result.problem).toContain(`it comes after revision ${moved.revision + 1} of its stream: events were reordered`);
      expect(thirdPartyVerify(path)).not.toBeNull();
    });

    it('fails when a digest was removed', async () => {
      const path = tampered(intact, ({ digests }) => {
        expect(digests.length).toBeGreaterThanOrEqual(3);
        digests.splice(1, 1);
      });
      const result = await verifyBundle(path);
      expect(result.problem).toBe(
        'digest 2 (line 2 of digests.jsonl): previousDigestHash is not the SHA-256 of the payload of digest 1 (line 1 of digests.jsonl), the digest before it: a digest is missing or out of order',
      );
      expect(thirdPartyVerify(path)).toBe('digest 2: digest chain broken');
    });

    it('fails when a signature was altered', async () => {
      const path = tampered(intact, ({ digests }) => {
        const line = JSON.parse(digests[0]);
        const signature = Buffer.from(line.signature, 'base64');
        signature[10] ^= 1;
        digests[0] = JSON.stringify({ ...line, signature: signature.toString('base64') });
      });
      const result = await verifyBundle(path);
      expect(result.problem).toMatch(
        /^digest 1 \(line 1 of digests.jsonl\): the signature does not verify with key \S+: the digest or its signature was altered$/,
      );
      expect(thirdPartyVerify(path)).toBe('digest 1: bad signature');
    });

    it('fails when a whole stream was rewritten with its chain recomputed, by the signed heads', async () => {
      let rewritten: any[] = [];
      const path = tampered(intact, ({ events }) => {
        const lines = planLines(events);
        let previousHash = lines[0].event.hash;
        rewritten = lines.slice(1).map(({ index, event }) => {
          const data = { ...event.data, enabled: !event.data.enabled };
          const hash = sha(
            `${previousHash}|${event.stream}|${event.revision}|${sha(canon({ data, id: event.id, metadata: event.metadata, type: event.type }))}`,
          );
          const changed = { ...event, data, previousHash, hash };
          previousHash = hash;
          events[index] = JSON.stringify(changed);
          return changed;
        });
      });
      const result = await verifyBundle(path);
      expect(result.problem).toMatch(
        new RegExp(
          `^stream plan-${s.planId} revision \\d+: its hash differs from the head signed in digest \\d+ \\(line \\d+ of digests.jsonl\\): the stream was rewritten after the digest was signed$`,
        ),
      );
      expect(rewritten.length).toBeGreaterThanOrEqual(4);
      expect(thirdPartyVerify(path)).toMatch(/differs from a signed head$/);
    });

    describe('by digest periods', () => {
      const DIGESTS = 'query { auditDigests(first: 50) { edges { node { cursor sequence eventCount logPosition payload } } } }';
      let digests: { cursor: string; sequence: number; eventCount: number; logPosition: string; payload: string }[];
      /** Every event of the tenant up to now, as the export writes its lines. */
      let all: string[];
      const inPeriods = (first: number, last: number) => {
        const after = first > 1 ? position(digests[first - 2].logPosition) : null;
        const upTo = position(digests[last - 1].logPosition);
        return all.filter((line) => {
          const at = position(JSON.parse(line).position);
          return (after === null || compare(at, after) > 0) && compare(at, upTo) <= 0;
        });
      };
      const unpacked = (path: string) => {
        const dir = mkdtempSync(join(folder, 'periods-'));
        execFileSync('tar', ['-xzf', path, '-C', dir]);
        const read = (name: string) => readFileSync(join(dir, name), 'utf8');
        return {
          listing: readdirSync(dir).sort(),
          manifest: JSON.parse(read('export.json')),
          digests: read('digests.jsonl').split('\n').filter(Boolean),
          events: read('events.jsonl').split('\n').filter(Boolean),
        };
      };
      const exportRecords = async () => {
        const { auditLog } = await api.ok(auditor, ops.auditLog, { first: 500, filter: { types: ['AuditHistoryExported'] } });
        return auditLog.edges.map((edge: any) => edge.node);
      };

      beforeAll(async () => {
        // A fourth period, holding the exports above and a toggle.
        await api.ok(api.rootToken, ops.togglePlanCredential, { planId: s.planId, credentialId: s.credentialIds[0], enabled: false });
        await api.ok(api.rootToken, CREATE_DIGEST);
        digests = (await api.ok(auditor, DIGESTS)).auditDigests.edges.map((edge: any) => edge.node);
        const response = await get(auditor, { format: 'jsonl' });
        all = (await response.text()).split('\n').filter(Boolean);
      }, 60_000);

      it('numbers the digests in auditDigests as their cursor does', () => {
        expect(digests.map((digest) => digest.sequence)).toEqual([1, 2, 3, 4]);
        expect(digests.map((digest) => digest.cursor)).toEqual(['1', '2', '3', '4']);
      });

      it('exports exactly the events of the periods, by log position, with those digests, and verifies them whole', async () => {
        const path = await bundle(auditor, { fromDigest: '2', toDigest: '3' });
        const { listing, manifest, digests: signed, events } = unpacked(path);
        expect(manifest).toMatchObject({ kind: 'digest-periods', fromDigest: 2, toDigest: 3, from: null, to: null, complete: true });
        expect(signed.map((line) => JSON.parse(line).payload)).toEqual([digests[1].payload, digests[2].payload]);
        // The digest before the first, signed, anchors where the first period starts.
        expect(listing).toEqual(['VERIFY.md', 'anchor.json', 'digests.jsonl', 'events.jsonl', 'export.json', 'keys.json']);
        const anchor = JSON.parse(execFileSync('tar', ['-xzOf', path, 'anchor.json'], { encoding: 'utf8' }));
        expect(Object.keys(anchor)).toEqual(['payload', 'signature', 'keyId']);
        expect(anchor.payload).toBe(digests[0].payload);
        expect(events).toEqual(inPeriods(2, 3));
        expect(events).toHaveLength(digests[1].eventCount + digests[2].eventCount);
        const child = spawnTs(CLI, ['verify-export', path]);
        expect(await child.exited).toBe(0);
        expect(child.output()).toContain(
          'an export of whole digest periods, digests 2 to 3 as export.json claims (those numbers are not signed; what is checked is the chain of signed digests anchor.json → first → … → last): each period holds exactly the events its digest counts and names, and nothing else',
        );
        expect(child.output()).not.toContain('signed by none');
        expect(thirdPartyVerify(path)).toBeNull();
      });

      it('takes one bound alone, in every format', async () => {
        const ids = (lines: string[]) => lines.map((line) => JSON.parse(line).id);
        expect((await jsonl(auditor, { toDigest: '1' })).map((line) => line.id)).toEqual(ids(inPeriods(1, 1)));
        const csv = (await text(auditor, { format: 'csv', fromDigest: '4' })).split('\r\n').filter(Boolean);
        expect(csv).toHaveLength(1 + digests[3].eventCount);
        const fromStart = await bundle(auditor, { toDigest: '4' });
        expect(unpacked(fromStart).events).toEqual(inPeriods(1, 4));
        // From the tenant's first digest there is nothing before to anchor on.
        expect(unpacked(fromStart).listing).not.toContain('anchor.json');
        const result = await verifyBundle(fromStart);
        expect(result).toMatchObject({ ok: true, kind: 'digest-periods', digestPeriods: { fromDigest: 1, toDigest: 4, anchored: false }, unsigned: 0 });
        expect(thirdPartyVerify(fromStart)).toBeNull();
      });

      it('fails naming the digest when one event of its period was removed', async () => {
        const path = await bundle(auditor, { fromDigest: '2', toDigest: '3' });
        // The plan's toggle of each period: in period 2 the stream's first line in the file, in period 3 its last.
        for (const [pick, digest, line] of [
          [(plan: any[]) => plan[0], 2, 1],
          [(plan: any[]) => plan.at(-1), 3, 2],
        ] as const) {
          const cut = tampered(path, ({ events }) => {
            const gone = pick(planLines(events).map(({ event }) => event));
            events.splice(
              events.findIndex((event) => JSON.parse(event).id === gone.id),
              1,
            );
          });
          const result = await verifyBundle(cut);
          expect(result.ok).toBe(false);
          expect(result.problem).toMatch(
            new RegExp(
              `^digest ${digest} \\(line ${line} of digests.jsonl\\): it signs \\d+ events of its period \\(\\S+ to \\S+\\), the file holds \\d+: events were removed or added$`,
            ),
          );
          expect(thirdPartyVerify(cut)).toMatch(new RegExp(`^digest ${digest}: event count`));
        }
        // From the middle of a stream: the gap names the period it was in.
        const whole = await bundle(auditor, { toDigest: '1' });
        let removed: any;
        const cut = tampered(whole, ({ events }) => {
          const plan = planLines(events);
          expect(plan.length).toBeGreaterThanOrEqual(3);
          removed = plan[1].event;
          events.splice(plan[1].index, 1);
        });
        const result = await verifyBundle(cut);
        expect(result.problem).toContain(
          `revision ${removed.revision} of its stream is missing before it: an event was removed from the period of digest 1 (line 1 of digests.jsonl)`,
        );
        expect(thirdPartyVerify(cut)).toMatch(/missing revision before it/);
      });

      it('fails when an event after the last period was added, or a digest removed', async () => {
        const path = await bundle(auditor, { fromDigest: '2', toDigest: '3' });
        const next = inPeriods(4, 4)[0];
        const added = tampered(path, ({ events }) => {
          events.push(next);
        });
        const result = await verifyBundle(added);
        expect(result.problem).toContain(`event ${JSON.parse(next).id}`);
        expect(result.problem).toContain('an export of digest periods holds no event after its last period');
        expect(thirdPartyVerify(added)).toBe(`event ${JSON.parse(next).id}: after the last period`);
        const shorter = tampered(path, ({ digests: lines, events }) => {
          lines.pop();
          events.splice(0, events.length, ...inPeriods(2, 2));
        });
        expect((await verifyBundle(shorter)).problem).toBe('export.json names digests 2 to 3, digests.jsonl holds 1: digests were removed or added');
        expect(thirdPartyVerify(shorter)).toBe('digests: not the ones asked for');
      });

      it('holds export.json to what the bundle is', async () => {
        const path = await bundle(auditor, { fromDigest: '2', toDigest: '3' });
        const fromFirst = tampered(path, ({ manifest }) => {
          Object.assign(manifest, { fromDigest: 1, toDigest: 2 });
        });
        expect((await verifyBundle(fromFirst)).problem).toMatch(
          /^digest 1 \(line 1 of digests.jsonl\): the export starts at the beginning of the history, so its first digest must name 64 zeros/,
        );
        expect(thirdPartyVerify(fromFirst)).toBe('digest 1: not the first digest');
        const passedOff = tampered(path, ({ manifest }) => {
          manifest.kind = 'full';
        });
        expect((await verifyBundle(passedOff)).problem).toBe('export.json: kind full does not match its other fields');
        expect(thirdPartyVerify(passedOff)).toBe('export.json: kind does not match');
        // toDigest without fromDigest is no kind: not a full export, whatever kind it says.
        for (const kind of ['full', 'digest-periods']) {
          const oneBound = tampered(path, ({ manifest }) => {
            Object.assign(manifest, { kind, fromDigest: null });
          });
          expect((await verifyBundle(oneBound)).problem).toBe(
            `export.json: kind ${kind} does not match its other fields: toDigest is set and fromDigest is null, which no kind of export has`,
          );
          expect(thirdPartyVerify(oneBound)).toBe('export.json: kind does not match');
        }
      });

      it('answers 400 naming the parameter, and records no export, for bounds it cannot take', async () => {
        const { createTenant } = await api.ok(api.rootToken, ops.createTenant, { name: `periods-${store}` });
        const other = createTenant.token;
        await api.ok(other, CREATE_DIGEST);
        const before = (await exportRecords()).length;
        const cases: [string, string, Record<string, string>][] = [
          [auditor, 'fromDigest', { fromDigest: 'two' }],
          [auditor, 'fromDigest', { fromDigest: '0' }],
          [auditor, 'toDigest', { toDigest: '1.5' }],
          [auditor, 'toDigest', { fromDigest: '3', toDigest: '2' }],
          [auditor, 'fromDigest', { fromDigest: '99', format: 'bundle' }],
          [auditor, 'toDigest', { fromDigest: '2', toDigest: '99' }],
          [auditor, 'types', { fromDigest: '2', types: 'PlanCredentialToggled' }],
          [auditor, 'planId', { toDigest: '2', planId: s.planId }],
          [auditor, 'from', { fromDigest: '1', from: '2026-01-01T00:00:00Z' }],
          [auditor, 'to', { toDigest: '1', to: '2026-01-01T00:00:00Z' }],
          // Sequence numbers are each tenant's own: ours name no digest of theirs.
          [other, 'fromDigest', { fromDigest: '3', format: 'bundle' }],
          [other, 'toDigest', { toDigest: '2' }],
        ];
        for (const [token, param, params] of cases) {
          const response = await get(token, params);
          expect([param, response.status]).toEqual([param, 400]);
          const body = (await response.json()) as any;
          expect(body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
          expect(Object.keys(body.errors[0].extensions.fields)).toEqual([param]);
          expect(body.errors[0].message).toMatch(new RegExp(`^${param}: `));
        }
        const head = await fetch(`${exportUrl}?fromDigest=99`, { method: 'HEAD', headers: { authorization: `Bearer ${auditor}` } });
        expect(head.status).toBe(400);
        // One export taken after them: its record is the only one added.
        const taken = await get(auditor, { format: 'jsonl', fromDigest: '2', toDigest: '3' });
        expect(taken.status).toBe(200);
        await taken.text();
        const exportId = taken.headers.get('x-backplane-export-id');
        const records = await eventually(async () => {
          const found = await exportRecords();
          expect(found.some((node: any) => node.data.exportId === exportId)).toBe(true);
          return found;
        });
        expect(records).toHaveLength(before + 1);
        expect(records.at(-1).data.filters).toMatchObject({ digestPeriods: { first: 2, last: 3 }, from: null, types: null });
      });

      it('finds a place in the log that no event has by comparing positions', async () => {
        const tenantId = JSON.parse(digests[0].payload).tenantId;
        const upTo = digests[2].logPosition;
        const [tx] = upTo.split('-');
        // Between the last event of the digest's transaction and any later transaction's events.
        const between = `${BigInt(tx) + 1n}-0`;
        const exact = await periodsRange(api.service.app.db, tenantId, { after: digests[0].logPosition, upTo });
        const compared = await periodsRange(api.service.app.db, tenantId, { after: digests[0].logPosition, upTo: between });
        expect(compared).toEqual(exact);
        expect(BigInt(exact.upTo)).toBeGreaterThan(BigInt(exact.after));
      });

      it('refuses, naming it, an event from before the first period put in the place of one removed, by the signed anchor', async () => {
        // Period F-1 ends with a change of the password entry (stream T); period F holds two toggles of
        // the plan (stream U, the second its signed head) and two more changes of T.
        const passwordStream = `password-${s.passwordId}`;
        const describe = (text: string) => api.ok(api.rootToken, ops.changePassword, { id: s.passwordId, input: { description: text } });
        await describe('before the anchor');
        await api.ok(api.rootToken, CREATE_DIGEST);
        for (const enabled of [true, false]) {
          await api.ok(api.rootToken, ops.togglePlanCredential, { planId: s.planId, credentialId: s.credentialIds[0], enabled });
        }
        await describe('in the period');
        await describe('in the period, again');
        await api.ok(api.rootToken, CREATE_DIGEST);
        const F = (await api.ok(auditor, DIGESTS)).auditDigests.edges.length;
        const path = await bundle(auditor, { fromDigest: String(F), toDigest: String(F) });
        expect(await verifyBundle(path)).toMatchObject({ ok: true, digestPeriods: { fromDigest: F, toDigest: F, anchored: true } });
        const before = (await jsonl(auditor, { fromDigest: String(F - 1), toDigest: String(F - 1) })).filter((event) => event.stream === passwordStream).at(-1);
        let removed: any;
        const substituted = tampered(path, ({ events }) => {
          const parsed = events.map((line) => JSON.parse(line));
          const plan = parsed.filter((event) => event.stream === `plan-${s.planId}`);
          const password = parsed.filter((event) => event.stream === passwordStream);
          expect([plan.length, password.length, password[0].revision]).toEqual([2, 2, before.revision + 1]);
          // U loses its first event of the period; T gains the one before it, so the count and the heads stay.
          removed = plan[0];
          events.splice(parsed.indexOf(removed), 1);
          events.unshift(JSON.stringify(before));
        });
        const result = await verifyBundle(substituted);
        expect(result.ok).toBe(false);
        expect(result.problem).toBe(
          `event ${before.id} (stream ${passwordStream} revision ${before.revision}, line 1 of events.jsonl): its position is at or before the logPosition of the anchor, digest ${F - 1} (anchor.json), and the export's first period starts after it: the event comes from before the export's periods`,
        );
        expect(thirdPartyVerify(substituted)).toBe(`event ${before.id}: before the first period`);
        expect(removed.revision).toBeGreaterThan(0);

        // Without its anchor, or with the tenant's first digest passed off as digest F, it is refused too.
        const unanchored = tampered(path, (files) => {
          files.anchor = null;
        });
        expect((await verifyBundle(unanchored)).problem).toBe(
          `anchor.json is missing from the bundle: an export of digest periods from digest ${F} carries digest ${F - 1} as the anchor of its first period`,
        );
        expect(thirdPartyVerify(unanchored)).toBe('anchor: missing');
        const firstDigest = execFileSync('tar', ['-xzOf', intact, 'digests.jsonl'], { encoding: 'utf8' }).split('\n')[0];
        const restarted = tampered(path, ({ digests: lines }) => {
          lines.splice(0, 1, firstDigest);
        });
        expect((await verifyBundle(restarted)).problem).toBe(
          `digest ${F} (line 1 of digests.jsonl): it names 64 zeros as previousDigestHash, as only the tenant's first digest does, while export.json says the export starts at digest ${F}`,
        );
        expect(thirdPartyVerify(restarted)).toBe(`digest ${F}: the tenant's first digest`);

        // An event of another tenant, its hash recomputed, is named as such.
        let moved: any;
        const foreign = tampered(path, ({ events }) => {
          const event = JSON.parse(events[0]);
          const metadata = { ...event.metadata, tenantId: 'another-tenant' };
          const content = sha(canon({ data: event.data, id: event.id, metadata, type: event.type }));
          moved = { ...event, metadata, hash: sha(`${event.previousHash}|${event.stream}|${event.revision}|${content}`) };
          events[0] = JSON.stringify(moved);
        });
        expect((await verifyBundle(foreign)).problem).toBe(
          `event ${moved.id} (stream ${moved.stream} revision ${moved.revision}, line 1 of events.jsonl): its metadata.tenantId is not the tenant of the export and its digests: the event is another tenant's`,
        );
        expect(thirdPartyVerify(foreign)).toBe(`event ${moved.id}: another tenant`);
      });
    });
  });
});
