// Variants of one WGSL file without override constants, for what overrides cannot do: leave out
// bindings. A pipeline built with layout 'auto' must be given exactly the bindings its shader uses,
// and a device may offer as few as 8 storage buffers per stage, so a kernel with optional inputs
// (biases, norm weights) declares them only in the variants that read them.
//
//   //#if NAME … //#else … //#endif   keeps one branch by flags[NAME] (nesting allowed)
//   @binding(#)                        numbered 0, 1, 2, … in order of appearance, after the branches
//                                      are chosen (storage bindings first, the uniform block last,
//                                      as Gpu.run binds them)

export function wgslVariant(code: string, flags: Readonly<Record<string, boolean>>): string {
  const out: string[] = [];
  // For each open #if: is its current branch kept, and was the enclosing text kept?
  const stack: { keep: boolean; outer: boolean }[] = [];
  let keep = true;
  code.split('\n').forEach((line, i) => {
    const directive = /^\s*\/\/#(if|else|endif)\b\s*(\w*)/.exec(line);
    if (!directive) {
      if (keep) out.push(line);
      return;
    }
    const [, kind, name] = directive;
    if (kind === 'if') {
      if (!(name in flags)) throw new Error(`wgslVariant: line ${i + 1} tests "${name}", which has no flag.`);
      stack.push({ keep: flags[name], outer: keep });
      keep = keep && flags[name];
    } else {
      const top = stack.at(-1);
      if (!top) throw new Error(`wgslVariant: line ${i + 1} has #${kind} without #if.`);
      if (kind === 'else') {
        top.keep = !top.keep;
        keep = top.outer && top.keep;
      } else {
        stack.pop();
        keep = top.outer;
      }
    }
  });
  if (stack.length) throw new Error('wgslVariant: an #if is not closed.');
  let binding = 0;
  return out.join('\n').replace(/@binding\(#\)/g, () => `@binding(${binding++})`);
}

/** A name for a variant: the base name plus the flags that are on. */
export function variantName(base: string, flags: Readonly<Record<string, boolean>>): string {
  const on = Object.keys(flags).filter((k) => flags[k]);
  return on.length ? `${base}[${on.join(',')}]` : base;
}
