#!/usr/bin/env node
// Development entry: same as run.js but marks the CLI as in development (oclif prints more on errors).
import 'reflect-metadata'
import { execute } from '@oclif/core'

await execute({ development: true, dir: import.meta.url })
