// How the extension runs `lfd lsp`: the command from the settings, found on PATH or expanded
// from `~`, and the environment it gets. No `vscode` import.

import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export interface ServerSettings {
  path: string;
  args: string[];
  env: Record<string, string>;
}

export interface ResolvedServer {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

export type Exists = (file: string) => boolean;

const isExecutable: Exists = (file) => {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
};

export function expandHome(file: string, home = os.homedir()): string {
  if (file === "~") {
    return home;
  }
  return file.startsWith("~/") ? path.join(home, file.slice(2)) : file;
}

/** The executable the setting names, or undefined when it cannot be found. */
export function findExecutable(
  setting: string,
  envPath: string | undefined,
  exists: Exists = isExecutable,
): string | undefined {
  const file = expandHome(setting.trim());
  if (!file) {
    return undefined;
  }
  if (file.includes("/")) {
    return exists(file) ? path.resolve(file) : undefined;
  }
  for (const dir of (envPath ?? "").split(path.delimiter)) {
    if (dir) {
      const candidate = path.join(dir, file);
      if (exists(candidate)) {
        return candidate;
      }
    }
  }
  return undefined;
}

/** The command line and environment of the server, or an error that names cause and fix. */
export function resolveServer(
  settings: ServerSettings,
  baseEnv: NodeJS.ProcessEnv,
  exists: Exists = isExecutable,
): ResolvedServer | { error: string } {
  const env: NodeJS.ProcessEnv = { ...baseEnv, ...settings.env };
  const command = findExecutable(settings.path, env.PATH, exists);
  if (!command) {
    const where = settings.path.includes("/")
      ? `'${settings.path}' is not an executable file`
      : `'${settings.path}' is not on PATH`;
    return {
      error:
        `cannot start the LocalForge language server: ${where}. ` +
        "Install LocalForge (make setup in its repository) and set localforge.server.path " +
        "to its lfd, e.g. ~/localforge/.venv/bin/lfd.",
    };
  }
  return { command, args: [...settings.args], env };
}
