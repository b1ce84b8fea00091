// The five panels of the lab (architecture.md, "What a user sees"), in tab order.
export const PANELS = [
  { id: 'models', label: 'Models' },
  { id: 'data', label: 'Data & teacher cache' },
  { id: 'train', label: 'Train' },
  { id: 'arena', label: 'Arena' },
  { id: 'runs', label: 'Runs & results' },
] as const;

export type PanelId = (typeof PANELS)[number]['id'];

export function isPanelId(value: string): value is PanelId {
  return PANELS.some((p) => p.id === value);
}
