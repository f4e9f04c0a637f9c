/** What a shared access signature grants, read from its query string (no request needed). */
export interface SasGrant {
  /**
   * The `sp` letters, or undefined when the URL does not say (the rights then live in a stored
   * access policy named by `si`, and only the service knows them).
   */
  readonly permissions: string | undefined;
  /** `se`, when present. */
  readonly expiresAt: Date | undefined;
}

/** Permissions granted by a SAS query string (`sp`) and its expiry (`se`), when it is one. */
export function parseSas(query: string): SasGrant | undefined {
  const params = new URLSearchParams(query.startsWith('?') ? query.slice(1) : query);
  if (!params.has('sig')) return undefined;
  const se = params.get('se');
  return { permissions: params.get('sp') ?? undefined, expiresAt: se === null ? undefined : new Date(se) };
}

/**
 * Problems with a SAS for uploads: it needs write (w), which stages blocks and commits them (a
 * create-only SAS is `sp=cw`: with `c` alone the service refuses Put Block), and must not be expired.
 */
export function sasProblems(sas: SasGrant, now: Date): string[] {
  const problems: string[] = [];
  if (sas.permissions !== undefined && !sas.permissions.includes('w')) {
    problems.push(`the SAS grants '${sas.permissions}' but uploads need write (w); a create-only SAS is sp=cw`);
  }
  if (sas.expiresAt !== undefined && !Number.isNaN(sas.expiresAt.getTime()) && sas.expiresAt.getTime() <= now.getTime()) {
    problems.push(`the SAS expired at ${sas.expiresAt.toISOString()}`);
  }
  return problems;
}

/** Whether the SAS says it may not read blobs (`sp` without `r`). Unknown (a stored policy) is false. */
export function sasForbidsReads(sas: SasGrant | undefined): boolean {
  return sas?.permissions !== undefined && !sas.permissions.includes('r');
}
