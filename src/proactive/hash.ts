// A short, stable fingerprint of a text (FNV-1a, 32 bit, hex). Used to tell whether a stored
// result belongs to the same scenario or prompt text; not a security hash.
export function fingerprint(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}
