/** The input-validation layer shared by every command (core: no UI imports). */
export * from './bounds.js'
export * from './escape.js'
export * from './identity.js'
export * from './server-ca.js'
