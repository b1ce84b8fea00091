// Wait for reactive state: resolves once `predicate` (which reads rune state) holds. The check runs in
// an effect of its own root, so it works outside components and is torn down once it has resolved.
export function until(predicate: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    const stop = $effect.root(() => {
      $effect(() => {
        if (done || !predicate()) return;
        done = true;
        resolve();
        queueMicrotask(() => stop());
      });
    });
  });
}
