import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { requestIdOf } from "../protocol";
import { expandHome, findExecutable, resolveServer } from "../serverCommand";

const files = new Set(["/opt/lf/bin/lfd", "/home/me/.venv/bin/lfd"]);
const exists = (f: string) => files.has(f);

describe("server command", () => {
  it("finds a bare command on PATH", () => {
    assert.equal(findExecutable("lfd", "/usr/bin:/opt/lf/bin", exists), "/opt/lf/bin/lfd");
    assert.equal(findExecutable("lfd", "/usr/bin", exists), undefined);
  });

  it("expands ~ and takes paths as they are", () => {
    assert.equal(expandHome("~/.venv/bin/lfd", "/home/me"), "/home/me/.venv/bin/lfd");
    assert.equal(findExecutable("/opt/lf/bin/lfd", "", exists), "/opt/lf/bin/lfd");
  });

  it("gives the server the settings' environment over the editor's", () => {
    const resolved = resolveServer(
      { path: "lfd", args: ["lsp"], env: { LOCALFORGE_X: "1", PATH: "/opt/lf/bin" } },
      { PATH: "/usr/bin", HOME: "/home/me" },
      exists,
    );
    assert.ok(!("error" in resolved));
    assert.equal(resolved.command, "/opt/lf/bin/lfd");
    assert.deepEqual(resolved.args, ["lsp"]);
    assert.equal(resolved.env.LOCALFORGE_X, "1");
    assert.equal(resolved.env.HOME, "/home/me");
  });

  it("names the cause and the fix when lfd cannot be found", () => {
    const missing = resolveServer({ path: "lfd", args: ["lsp"], env: {} }, { PATH: "/usr/bin" }, exists);
    assert.ok("error" in missing);
    assert.match(missing.error, /'lfd' is not on PATH/);
    assert.match(missing.error, /localforge\.server\.path/);
    const bad = resolveServer({ path: "/nope/lfd", args: [], env: {} }, {}, exists);
    assert.ok("error" in bad);
    assert.match(bad.error, /'\/nope\/lfd' is not an executable file/);
  });
});

describe("request ids", () => {
  it("come from the accept command's first argument", () => {
    assert.equal(requestIdOf({ command: "localforge.accept", arguments: ["r1"] }), "r1");
    assert.equal(requestIdOf({ command: "localforge.accept", arguments: [{ requestId: "r2" }] }), "r2");
    assert.equal(requestIdOf({ command: "other", arguments: ["r1"] }), undefined);
    assert.equal(requestIdOf({ command: "localforge.accept", arguments: [] }), undefined);
    assert.equal(requestIdOf(undefined), undefined);
  });
});
