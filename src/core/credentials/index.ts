export * from './batch.js'
export * from './endpoints.js'
export * from './generate.js'
