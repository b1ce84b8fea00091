// The `endpoints` store: the person's OpenAI-compatible endpoints, keys included (they never
// leave the browser except in requests to their own endpoint).
import { validateEndpoint, type EndpointSettings } from '../llm/endpoint-settings.ts';
import { isQuotaError, StorageQuotaError, type LabDb, type LabSchema } from './db.ts';

type Row = LabSchema['endpoints']['value'];

export async function listEndpoints(db: LabDb): Promise<EndpointSettings[]> {
  const rows = (await db.getAll('endpoints')) as unknown as EndpointSettings[];
  return rows.sort((a, b) => a.createdAt - b.createdAt);
}

export async function getEndpoint(db: LabDb, id: string): Promise<EndpointSettings | undefined> {
  return (await db.get('endpoints', id)) as unknown as EndpointSettings | undefined;
}

export async function saveEndpoint(db: LabDb, settings: EndpointSettings): Promise<void> {
  validateEndpoint(settings);
  try {
    // The store's row type is open (`{ id } & Record<string, unknown>`); settings are plain data.
    await db.put('endpoints', { ...settings } as unknown as Row);
  } catch (err) {
    if (isQuotaError(err)) throw new StorageQuotaError('an endpoint');
    throw err;
  }
}

/** Imported endpoints are saved without keys; one that already exists keeps its stored key. */
export async function saveImportedEndpoints(db: LabDb, endpoints: readonly EndpointSettings[]): Promise<void> {
  for (const e of endpoints) {
    const existing = await getEndpoint(db, e.id);
    await saveEndpoint(db, { ...e, apiKey: existing?.apiKey ?? '' });
  }
}

export async function deleteEndpoint(db: LabDb, id: string): Promise<void> {
  await db.delete('endpoints', id);
}
