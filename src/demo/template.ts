// Slot filling for the demo corpus: `{key}` is replaced by the slot's value and `{Key}` by the value
// with its first letter capitalised. Slot values may themselves hold placeholders (filled from the
// same slots). A placeholder without a slot is an error, so a typo in a template cannot reach the
// committed data.

export type Slots = Readonly<Record<string, string>>;

const PLACEHOLDER = /\{([A-Za-z][A-Za-z0-9_]*)\}/g;
const HAS_PLACEHOLDER = /\{[A-Za-z][A-Za-z0-9_]*\}/;
const MAX_DEPTH = 4;

export function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function fill(template: string, slots: Slots): string {
  let text = template;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    if (!HAS_PLACEHOLDER.test(text)) return text;
    text = text.replace(PLACEHOLDER, (whole, key: string) => {
      const lower = key.charAt(0).toLowerCase() + key.slice(1);
      const value = slots[key] ?? slots[lower];
      if (value === undefined) throw new Error(`Demo template "${template}" uses ${whole}, but no such slot is set (slots: ${Object.keys(slots).join(', ')}).`);
      return key !== lower && slots[key] === undefined ? capitalize(value) : value;
    });
  }
  throw new Error(`Demo template "${template}" still has placeholders after ${MAX_DEPTH} rounds of filling (a slot refers to itself?).`);
}
