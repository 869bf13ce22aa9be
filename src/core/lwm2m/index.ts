/** LwM2M model and codecs: Security /0 + Server /1, SenML-CBOR, OMA-TLV, endpoint names, server URIs. */
export * from './objects.js'
export * from './model.js'
export * from './senml.js'
export * from './tlv.js'
export * from './endpoint.js'
export * from './uri.js'
