import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import { inject } from "vitest";

/**
 * A TCP proxy the test controls, put between the service and PostgreSQL or a store to make the
 * network fail the ways networks do: go silent, refuse, or cut a connection at a chosen moment.
 */
export interface TcpProxy {
  port: number;
  /** `url` with its host and port replaced by the proxy's. */
  through(url: string): string;
  /** Where new connections go from now on (e.g. a server restarted on another port). */
  retarget(target: { host: string; port: number }): void;
  /** A black hole: nothing is forwarded either way (nor are new connections answered) until thaw. */
  freeze(): void;
  /** Forwards what was held, and everything after. */
  thaw(): void;
  /** Cuts every connection and closes new ones as soon as they open, until `accept`. */
  refuse(): void;
  accept(): void;
  /**
   * The next time the client sends bytes that `match`, the connection is cut: by default they
   * are forwarded, the answer is dropped and the cut comes `afterMs` later, so the server acts
   * on a request whose outcome the client never learns; with `forward: false` they never reach
   * the server. Resolves when it has been cut.
   */
  cutAt(match: (bytes: Buffer) => boolean, options?: { forward?: boolean; afterMs?: number }): Promise<void>;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  server: Socket;
  /** Bytes held while frozen, per direction. */
  toServer: Buffer[];
  toClient: Buffer[];
  /** The answer of a cut request is dropped. */
  dropAnswers: boolean;
}

export async function startTcpProxy(initialTarget: { host: string; port: number }): Promise<TcpProxy> {
  let target = initialTarget;
  const pairs = new Set<Pair>();
  let frozen = false;
  let refusing = false;
  let cut: { match: (bytes: Buffer) => boolean; forward: boolean; afterMs: number; done: () => void } | undefined;

  const destroy = (pair: Pair) => {
    pair.client.destroy();
    pair.server.destroy();
    pairs.delete(pair);
  };

  const server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    const pair: Pair = { client, server: upstream, toServer: [], toClient: [], dropAnswers: false };
    pairs.add(pair);
    client.on("data", (bytes: Buffer) => {
      if (frozen) {
        pair.toServer.push(bytes);
        return;
      }
      if (cut?.match(bytes)) {
        const { forward, afterMs, done } = cut;
        cut = undefined;
        pair.dropAnswers = true;
        if (!forward) {
          destroy(pair);
          done();
          return;
        }
        upstream.write(bytes);
        setTimeout(() => {
          destroy(pair);
          done();
        }, afterMs);
        return;
      }
      upstream.write(bytes);
    });
    upstream.on("data", (bytes: Buffer) => {
      if (pair.dropAnswers) return;
      if (frozen) pair.toClient.push(bytes);
      else client.write(bytes);
    });
    for (const socket of [client, upstream]) {
      socket.on("error", () => destroy(pair));
      socket.on("close", () => destroy(pair));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    port,
    through(url) {
      const proxied = new URL(url);
      proxied.hostname = "127.0.0.1";
      proxied.port = String(port);
      return proxied.toString();
    },
    retarget(next) {
      target = next;
    },
    freeze() {
      frozen = true;
    },
    thaw() {
      frozen = false;
      for (const pair of pairs) {
        for (const bytes of pair.toServer.splice(0)) pair.server.write(bytes);
        for (const bytes of pair.toClient.splice(0)) pair.client.write(bytes);
      }
    },
    refuse() {
      refusing = true;
      for (const pair of pairs) destroy(pair);
    },
    accept() {
      refusing = false;
    },
    cutAt(match, { forward = true, afterMs = 200 } = {}) {
      return new Promise((done) => {
        cut = { match, forward, afterMs, done };
      });
    },
    async close() {
      for (const pair of pairs) destroy(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A proxy in front of the tests' PostgreSQL server (see global-setup). */
export function startDatabaseProxy(): Promise<TcpProxy> {
  const server = new URL(inject("serverUrl"));
  return startTcpProxy({ host: server.hostname, port: Number(server.port || 5432) });
}
