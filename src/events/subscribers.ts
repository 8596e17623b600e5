import type { ChangeEvent } from './types.js';

type Listener = (event: ChangeEvent) => void;

/**
 * The subscribers of a feed that delivers from its own I/O callbacks (PostgreSQL LISTEN, SQLite
 * polling, SSE): a listener that throws is reported and must not starve the others, nor break
 * the connection's event handling.
 */
export class Subscribers {
  private readonly listeners = new Set<Listener>();

  constructor(private readonly onError: (error: Error) => void) {}

  /** Returns the unsubscribe function. */
  add(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  deliver(event: ChangeEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.onError(error instanceof Error ? error : new Error(String(error)));
      }
    }
  }
}
