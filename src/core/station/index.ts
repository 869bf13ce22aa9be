/** Production station: work orders, claim codes, station profiles and the parallel multi-port runner. */
export * from './batch.js'
export * from './claim-code.js'
export * from './profile.js'
export * from './runner.js'
