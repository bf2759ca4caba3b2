#!/usr/bin/env node
// A `solc` command for py-solc-x, backed by the npm `solc` package (solcjs, WebAssembly).
//
// No native solc can be installed offline, and the `solcjs` CLI cannot stand in for it
// (it prints a banner before the JSON and rejects --allow-paths). py-solc-x only needs two
// things from a binary, and this script provides exactly those:
//   --version            "Version: <x.y.z>+commit.<hash>.Linux.g++"
//   --standard-json      compiler input on stdin, compiler output (JSON only) on stdout
// `--base-path DIR` is the project root: npm solc is loaded from DIR/node_modules, and
// imports (after the remappings in the input) are read from files under DIR.
// `--allow-paths` is accepted and ignored: imports can never leave the base path anyway.
"use strict";

const fs = require("fs");
const path = require("path");

function option(name) {
  const index = process.argv.indexOf(name);
  return index >= 0 && index + 1 < process.argv.length ? process.argv[index + 1] : null;
}

const basePath = path.resolve(option("--base-path") || process.cwd());

function loadCompiler() {
  try {
    return require(require.resolve("solc", { paths: [basePath] }));
  } catch (error) {
    process.stderr.write(
      `cannot load the npm solc package from ${basePath}/node_modules: ${error.message}\n` +
        "run `npm ci` in the project directory\n",
    );
    process.exit(2);
  }
}

function findImports(importPath) {
  const resolved = path.resolve(basePath, importPath);
  if (resolved !== basePath && !resolved.startsWith(basePath + path.sep)) {
    return { error: `import ${importPath} is outside the base path ${basePath}` };
  }
  try {
    return { contents: fs.readFileSync(resolved, "utf8") };
  } catch (error) {
    return { error: `cannot read ${importPath}: ${error.message}` };
  }
}

function readStdin() {
  return fs.readFileSync(0, "utf8");
}

const solc = loadCompiler();
if (process.argv.includes("--version")) {
  // py-solc-x parses "<x.y.z>+commit.<hash>"; the platform suffix only mimics native solc.
  const version = solc.version().replace(/\.Emscripten\.clang$/, "");
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${version}.Linux.g++\n`);
} else if (process.argv.includes("--standard-json")) {
  process.stdout.write(solc.compile(readStdin(), { import: findImports }));
} else {
  process.stderr.write("usage: solc --version | solc --standard-json [--base-path DIR] < input.json\n");
  process.exit(2);
}
