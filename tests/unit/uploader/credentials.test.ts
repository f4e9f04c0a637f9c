import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CREDENTIAL_ENV, credentialVariablesSet, parseSas, readStorageCredentials, sasForbidsReads, sasProblems } from '@edgeml/uploader';

describe('uploader credentials', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'ucred-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('none set: undefined; a plain variable is used as is', async () => {
    assert.equal(await readStorageCredentials({}), undefined);
    assert.equal(await readStorageCredentials({ [CREDENTIAL_ENV.connectionString]: '  ' }), undefined, 'blank counts as unset');
    const c = await readStorageCredentials({ [CREDENTIAL_ENV.containerSasUrl]: 'https://a.blob.core.windows.net/c?sp=cw&sig=x' });
    assert.deepEqual([c?.kind, c?.from, c?.file], ['containerSasUrl', CREDENTIAL_ENV.containerSasUrl, undefined]);
  });

  it('a secret file wins over the plain variables, is trimmed, and is read again on every call (rotation)', async () => {
    const file = path.join(dir, 'sas-url');
    await writeFile(file, 'https://a.blob.core.windows.net/c?sp=cw&sig=one\n');
    const env = { [CREDENTIAL_ENV.containerSasUrlFile]: file, [CREDENTIAL_ENV.connectionString]: 'UseDevelopmentStorage=true' };
    const first = await readStorageCredentials(env);
    assert.deepEqual([first?.kind, first?.value, first?.from, first?.file], ['containerSasUrl', 'https://a.blob.core.windows.net/c?sp=cw&sig=one', CREDENTIAL_ENV.containerSasUrlFile, file]);
    assert.deepEqual(credentialVariablesSet(env), [CREDENTIAL_ENV.containerSasUrlFile, CREDENTIAL_ENV.connectionString]);
    await writeFile(file, 'https://a.blob.core.windows.net/c?sp=cw&sig=two');
    const second = await readStorageCredentials(env);
    assert.notEqual(second?.fingerprint, first?.fingerprint, 'a rotated secret has another fingerprint');
    assert.ok(!(second?.fingerprint ?? '').includes('two') && (second?.fingerprint.length ?? 0) === 16, 'the fingerprint reveals nothing');
  });

  it('a missing, empty or oversized secret file is CONFIG_INVALID naming the variable and the path, never the content', async () => {
    const missing = path.join(dir, 'nope');
    await assert.rejects(readStorageCredentials({ [CREDENTIAL_ENV.connectionStringFile]: missing }), (err: unknown) => {
      const e = err as { code?: string; message?: string };
      return e.code === 'CONFIG_INVALID' && (e.message ?? '').includes(CREDENTIAL_ENV.connectionStringFile) && (e.message ?? '').includes(missing) && (e.message ?? '').includes('ENOENT');
    });
    const empty = path.join(dir, 'empty');
    await writeFile(empty, '\n');
    await assert.rejects(readStorageCredentials({ [CREDENTIAL_ENV.connectionStringFile]: empty }), /is empty/);
    const big = path.join(dir, 'big');
    await writeFile(big, 'x'.repeat(70 * 1024));
    await assert.rejects(readStorageCredentials({ [CREDENTIAL_ENV.connectionStringFile]: big }), /holds one line/);
  });

  it('SAS grants: write is required, create-only is sp=cw, reads are forbidden without r, a stored policy is unknown', () => {
    const now = new Date('2026-12-01T00:00:00Z');
    const cw = parseSas('?sv=2024-11-04&sp=cw&se=2027-01-01T00:00:00Z&sig=x');
    assert.deepEqual(sasProblems(cw!, now), []);
    assert.equal(sasForbidsReads(cw), true);
    assert.match(sasProblems(parseSas('sp=c&sig=x')!, now).join(), /need write \(w\); a create-only SAS is sp=cw/);
    assert.match(sasProblems(parseSas('sp=rl&sig=x')!, now).join(), /need write/);
    assert.match(sasProblems(parseSas('sp=cw&se=2026-11-30T00:00:00Z&sig=x')!, now).join(), /expired at 2026-11-30/);
    assert.equal(sasForbidsReads(parseSas('sp=rcw&sig=x')), false);
    const policy = parseSas('si=upload-policy&sig=x');
    assert.equal(policy?.permissions, undefined);
    assert.deepEqual(sasProblems(policy!, now), [], 'a stored access policy is judged by the service');
    assert.equal(sasForbidsReads(policy), false);
    assert.equal(parseSas('sp=cw'), undefined, 'no signature: not a SAS');
  });
});
