#!/usr/bin/env node
// The wasgi-js command line: `wasgi-js build APP.js -o APP.wasm`.

import { build, BuildError } from '../src/build.js';

const USAGE = 'usage: wasgi-js build APP.js -o OUTPUT.wasm [--debug]';

async function main(args) {
  if (args[0] !== 'build') {
    console.error(args.length ? `wasgi-js: unknown command ${JSON.stringify(args[0])}\n${USAGE}` : USAGE);
    return 2;
  }
  let app;
  let output;
  let debug = false;
  for (let i = 1; i < args.length; i++) {
    if (args[i] === '-o' || args[i] === '--output') output = args[++i];
    else if (args[i] === '--debug') debug = true;
    else if (args[i] === '-h' || args[i] === '--help') {
      console.log(USAGE);
      return 0;
    } else if (app === undefined && !args[i].startsWith('-')) app = args[i];
    else {
      console.error(`wasgi-js: unexpected argument ${JSON.stringify(args[i])}\n${USAGE}`);
      return 2;
    }
  }
  if (!app || !output) {
    console.error(USAGE);
    return 2;
  }
  const started = Date.now();
  try {
    const size = await build({ app, output, debug });
    console.error(`wasgi-js: built ${output} (${size} bytes) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return 0;
  } catch (error) {
    if (error instanceof BuildError) {
      console.error(`wasgi-js: error: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

process.exitCode = await main(process.argv.slice(2));
