#!/usr/bin/env node
// The flask-eval command: runs the TypeScript sources through tsx (no build step), from any directory.
import { register } from 'tsx/esm/api';

register();
await import('../client/cli.ts');
