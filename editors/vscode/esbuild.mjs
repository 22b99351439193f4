// Bundle the extension and its one runtime dependency into dist/extension.js, so the .vsix
// carries no node_modules. `vscode` is provided by the extension host.
import { build } from "esbuild";

await build({
  entryPoints: ["src/extension.ts"],
  bundle: true,
  outfile: "dist/extension.js",
  external: ["vscode"],
  format: "cjs",
  platform: "node",
  target: "node20",
  sourcemap: true,
  minify: true,
  keepNames: true,
  logLevel: "warning",
});
