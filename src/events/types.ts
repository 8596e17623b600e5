/** A change that affects what the proxy resolves. Published after the write is durable. */
export type ChangeEvent =
  | { kind: 'secret'; orgId: string; secretId: string }
  | { kind: 'sandbox'; orgId: string; sandboxId: string }
  /** Subscribers must drop everything (for example after a gap in a remote event stream). */
  | { kind: 'reset' };

export interface ChangeFeed {
  publish(event: ChangeEvent): void;
  /** Returns an unsubscribe function. */
  subscribe(listener: (event: ChangeEvent) => void): () => void;
}
