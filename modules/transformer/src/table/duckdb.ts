import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { EdgeMLError } from '@edgeml/shared';

/**
 * The one adapter around `@duckdb/node-api`: an in-memory DuckDB instance with a memory limit and a
 * thread count, opened on first use and shared by concurrent conversions (each gets its own
 * connection, so its `reject_errors` temp table is its own). Rows come back as JSON-safe objects
 * (BIGINT as strings).
 */

export interface DuckDbSettings {
  readonly memoryLimitBytes: number;
  readonly threads: number;
}

export type Row = Record<string, unknown>;

/** A connection for one piece of work: `all(sql)` returns its rows; `close()` when done. */
export interface DuckDbSession {
  all(sql: string): Promise<Row[]>;
  /** Stops the statement running on this connection (it then rejects). */
  interrupt(): void;
  close(): void;
}

export interface DuckDbEngine {
  session(): Promise<DuckDbSession>;
  close(): void;
}

function wrapConnection(connection: DuckDBConnection): DuckDbSession {
  return {
    async all(sql) {
      const reader = await connection.runAndReadAll(sql);
      return reader.getRowObjectsJson() as Row[];
    },
    interrupt() {
      connection.interrupt();
    },
    close() {
      connection.closeSync();
    },
  };
}

/**
 * An engine whose instance is created on the first `session()` with the settings `settingsOf()`
 * returns then; when they change (a twin update), the next session starts a new instance and the
 * old one closes once its sessions are done.
 */
export function createDuckDbEngine(settingsOf: () => DuckDbSettings): DuckDbEngine {
  interface Current {
    readonly key: string;
    readonly instance: Promise<DuckDBInstance>;
    active: number;
    retired: boolean;
  }
  let current: Current | undefined;
  const release = (c: Current): void => {
    if (c.retired && c.active === 0) void c.instance.then((i) => i.closeSync(), () => undefined);
  };
  return {
    async session() {
      const settings = settingsOf();
      const key = `${settings.memoryLimitBytes}/${settings.threads}`;
      if (current?.key !== key) {
        if (current !== undefined) {
          current.retired = true;
          release(current);
        }
        const instance = DuckDBInstance.create(':memory:', {
          memory_limit: `${Math.floor(settings.memoryLimitBytes / (1024 * 1024))}MB`,
          threads: String(settings.threads),
          // The engine reads only the files it is given; no extension is ever downloaded.
          autoinstall_known_extensions: 'false',
          autoload_known_extensions: 'false',
        });
        current = { key, instance, active: 0, retired: false };
      }
      const c = current;
      let connection: DuckDBConnection;
      try {
        connection = await (await c.instance).connect();
      } catch (err: unknown) {
        if (current === c) current = undefined;
        throw new EdgeMLError('INTERNAL', `DuckDB could not start: ${(err as Error).message}`, { cause: err });
      }
      c.active++;
      const session = wrapConnection(connection);
      return {
        ...session,
        close() {
          session.close();
          c.active--;
          release(c);
        },
      };
    },
    close() {
      if (current === undefined) return;
      current.retired = true;
      release(current);
      current = undefined;
    },
  };
}

/** A SQL string literal. */
export function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/** A SQL identifier. */
export function sqlIdentifier(s: string): string {
  return `"${s.replaceAll('"', '""')}"`;
}
