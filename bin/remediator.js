#!/usr/bin/env node
// The package ships TypeScript sources; tsx compiles them on load so `npm ci` is all a user runs.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
