// The EngineClient is shared with every component through Svelte context, keyed by a Symbol.
import { getContext, setContext } from 'svelte';
import type { EngineClient } from './engine-client.svelte.ts';

const KEY = Symbol('engine-client');

export function provideEngine(client: EngineClient): void {
  setContext(KEY, client);
}

export function useEngine(): EngineClient {
  const client = getContext<EngineClient | undefined>(KEY);
  if (!client) throw new Error('useEngine() outside the App: no EngineClient in context.');
  return client;
}
