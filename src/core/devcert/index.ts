/** Developer credentials rendered into firmware source (`lwprov devcert`). */
export * from './devca.js'
export * from './devcert.js'
export * from './model.js'
export * from './output.js'
export * from './render.js'
export * from './templates.js'
