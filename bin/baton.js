#!/usr/bin/env node
/**
 * `npx baton firmware keygen|sign …`: the offline signing CLI (firmware-updates/cli.ts).
 *
 * The project ships TypeScript sources without a build step, so this entry loads the CLI through
 * tsx (a runtime dependency). `tsImport` scopes the TypeScript loader to this import instead of
 * registering it for the whole process.
 */
import { tsImport } from 'tsx/esm/api';

const { runCli } = await tsImport('../firmware-updates/cli.ts', import.meta.url);
process.exitCode = await runCli(process.argv.slice(2));
