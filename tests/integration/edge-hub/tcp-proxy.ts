/**
 * A TCP relay between a module and the hub, so that a test can cut the module's connection the way a
 * network or a dying hub does: a TCP reset (RST) that the module reads as ECONNRESET, at an exact moment.
 */
import { connect, createServer, type Socket } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** Sends an RST to every module-side socket and closes its hub-side socket; new connections still relay. */
  resetAll(): void;
  /** Closes every relayed connection on both sides (FIN, as a hub that exits does). */
  closeAll(): void;
  /** Where new connections are relayed from now on (an existing one keeps its hub). */
  retarget(port: number): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let target = targetPort;
  const pairs = new Set<{ down: Socket; up: Socket }>();
  const server = createServer((down) => {
    const up = connect(target, '127.0.0.1');
    const pair = { down, up };
    pairs.add(pair);
    const end = (): void => {
      pairs.delete(pair);
      down.destroy();
      up.destroy();
    };
    for (const s of [down, up]) {
      s.on('error', end);
      s.on('close', end);
    }
    down.pipe(up);
    up.pipe(down);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no TCP address');
  return {
    port: address.port,
    resetAll() {
      for (const p of [...pairs]) {
        pairs.delete(p);
        p.down.resetAndDestroy();
        p.up.destroy();
      }
    },
    closeAll() {
      for (const p of [...pairs]) {
        pairs.delete(p);
        p.down.destroy();
        p.up.destroy();
      }
    },
    retarget(port) {
      target = port;
    },
    close() {
      for (const p of [...pairs]) {
        p.down.destroy();
        p.up.destroy();
      }
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
