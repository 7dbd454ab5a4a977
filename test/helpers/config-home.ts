import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A temporary XDG_CONFIG_HOME for the CLI's contexts, so no test touches the real home directory. */
export interface ConfigHome {
  /** The temporary directory (XDG_CONFIG_HOME). */
  dir: string;
  /** Where the CLI keeps its contexts under it. */
  file: string;
  /** An environment with XDG_CONFIG_HOME and HOME both inside the temporary directory. */
  env: NodeJS.ProcessEnv;
  remove(): void;
}

export function tempConfigHome(): ConfigHome {
  const dir = mkdtempSync(join(tmpdir(), 'remediator-cli-config-'));
  return {
    dir,
    file: join(dir, 'remediator', 'config.yaml'),
    env: { XDG_CONFIG_HOME: dir, HOME: join(dir, 'home') },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
