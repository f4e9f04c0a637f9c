/**
 * Minimal typings for the parts of better-sqlite3 and node-forge this package uses.
 * @types/better-sqlite3 and @types/node-forge are not installed in this workspace; when they are added as
 * devDependencies this file can be deleted.
 */
declare module 'better-sqlite3' {
  interface RunResult {
    changes: number;
    lastInsertRowid: number | bigint;
  }
  interface Statement<P extends unknown[] = unknown[]> {
    run(...params: P): RunResult;
    get(...params: P): unknown;
    all(...params: P): unknown[];
  }
  interface Database {
    prepare<P extends unknown[] = unknown[]>(sql: string): Statement<P>;
    exec(sql: string): Database;
    pragma(sql: string): unknown;
    transaction<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R;
    close(): Database;
    readonly open: boolean;
  }
  interface DatabaseConstructor {
    new (filename: string, options?: { readonly?: boolean; fileMustExist?: boolean; timeout?: number }): Database;
  }
  const Database: DatabaseConstructor;
  export default Database;
  export type { Database, Statement, RunResult };
}

declare module 'node-forge' {
  interface ForgeKey {
    readonly __forgeKey?: never;
  }
  interface CertificateField {
    name?: string;
    shortName?: string;
    value?: string;
  }
  interface Certificate {
    serialNumber: string;
    publicKey: ForgeKey;
    validity: { notBefore: Date; notAfter: Date };
    setSubject(attrs: CertificateField[]): void;
    setIssuer(attrs: CertificateField[]): void;
    setExtensions(exts: Record<string, unknown>[]): void;
    sign(key: ForgeKey, md: unknown): void;
    readonly subject: { attributes: CertificateField[] };
  }
  interface Forge {
    pki: {
      createCertificate(): Certificate;
      certificateToPem(cert: Certificate): string;
      certificateFromPem(pem: string): Certificate;
      privateKeyFromPem(pem: string): ForgeKey;
      publicKeyFromPem(pem: string): ForgeKey;
    };
    md: { sha256: { create(): unknown } };
  }
  const forge: Forge;
  export default forge;
}
