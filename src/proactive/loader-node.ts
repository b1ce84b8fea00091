// Node side of the scenario loader: a folder on disk as a ScenarioSource, and `--envs <dir|file|URL>`.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { filterScenarios, loadOfficialLayout, loadScenarioFile, loadScenarioUrl, type LayoutOptions, type LoadedScenarios, type ScenarioSource } from './loader.ts';

export function nodeDirSource(dir: string): ScenarioSource {
  return {
    name: dir,
    async readText(path) {
      try {
        return await readFile(join(dir, ...path.split('/')), 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
        throw err;
      }
    },
  };
}

/** A folder (official layout), a single .json/.jsonl file, or an http(s) URL of either. */
export async function loadScenariosFrom(where: string, options: LayoutOptions = {}): Promise<LoadedScenarios> {
  if (/^https?:\/\//.test(where)) return loadScenarioUrl(where, options);
  const info = await stat(where);
  if (info.isDirectory()) return loadOfficialLayout(nodeDirSource(where), options);
  return filterScenarios(loadScenarioFile(await readFile(where, 'utf8'), where), options);
}
